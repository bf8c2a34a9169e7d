-- Team members of both frameworks. A CrewAI member has a role, a goal and a backstory; an
-- AutoGen member has a description (what the others read to choose who speaks), a system
-- message and handoffs (member names or "user"). `role` is therefore NULL for AutoGen members.
-- `tools` hold catalog names: built-in ones, or "mcp:<connection name>/<tool>".
-- `extra` keeps the framework's bounded settings (CrewAI: allow_delegation, max_iter).
ALTER TABLE team_members
    ALTER COLUMN role DROP NOT NULL,
    DROP CONSTRAINT team_members_role_check,
    ADD CONSTRAINT team_members_role_check CHECK (role IS NULL OR length(role) BETWEEN 1 AND 500),
    ADD COLUMN description text CHECK (description IS NULL OR length(description) BETWEEN 1 AND 2000),
    ADD COLUMN system_message text CHECK (system_message IS NULL OR length(system_message) <= 20000),
    ADD COLUMN handoffs text[] NOT NULL DEFAULT '{}',
    ADD COLUMN extra jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra) = 'object');
