-- Team runs. A run is of a workflow or of a team (`kind`); a team run names its team, whose
-- definition is copied onto the run when it is started (`definition`), so that a team edited or
-- deleted later does not change a conversation under way.
ALTER TABLE workflow_executions
    ADD COLUMN kind    text NOT NULL DEFAULT 'workflow' CHECK (kind IN ('workflow', 'team')),
    ADD COLUMN team_id uuid,
    ADD FOREIGN KEY (user_id, team_id) REFERENCES agent_teams (user_id, id) ON DELETE SET NULL (team_id),
    ADD CHECK (kind = 'team' OR team_id IS NULL);
CREATE INDEX workflow_executions_team_idx ON workflow_executions (team_id) WHERE team_id IS NOT NULL;

-- One conversation per team run: the task, the framework's saved state after the last finished
-- turn, and the run-wide counters that the team's termination bounds are checked against (the
-- framework's own counters do not survive a reload). A conversation outlives its team.
ALTER TABLE team_conversations
    ALTER COLUMN team_id DROP NOT NULL,
    DROP CONSTRAINT team_conversations_user_id_team_id_fkey,
    ADD FOREIGN KEY (user_id, team_id) REFERENCES agent_teams (user_id, id) ON DELETE SET NULL (team_id),
    ADD COLUMN context       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(context) = 'object'),
    ADD COLUMN state         jsonb CHECK (state IS NULL OR jsonb_typeof(state) = 'object'),
    ADD COLUMN turns         integer NOT NULL DEFAULT 0 CHECK (turns >= 0),
    ADD COLUMN message_count integer NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    ADD COLUMN active_ms     bigint NOT NULL DEFAULT 0 CHECK (active_ms >= 0),
    -- The last sequence number given to a message; never reused, even for messages withdrawn.
    ADD COLUMN last_seq      bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    ADD COLUMN stop_reason   text CHECK (length(stop_reason) BETWEEN 1 AND 64),
    -- The person's answer that the next turn starts with, until that turn is done: a turn that is
    -- done again (its step died or ran out of time) starts with the same answer.
    ADD COLUMN pending_answer jsonb CHECK (pending_answer IS NULL OR jsonb_typeof(pending_answer) = 'object');
DROP INDEX team_conversations_run_idx;
CREATE UNIQUE INDEX team_conversations_run_idx ON team_conversations (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX team_conversations_user_team_idx ON team_conversations (user_id, team_id, created_at DESC, id DESC);

-- The messages of a team run, written as they are produced. `turn` is the turn that produced a
-- message: a step that dies in the middle of a turn leaves messages of a turn past the
-- conversation's `turns`, which the next step withdraws before it does the turn again.
CREATE TABLE team_messages (
    user_id     text NOT NULL,
    run_id      uuid NOT NULL,
    seq         bigint NOT NULL CHECK (seq >= 1),
    turn        integer NOT NULL CHECK (turn >= 0),
    source      text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
    type        text NOT NULL CHECK (type IN ('text', 'tool_call', 'tool_result', 'handoff', 'stop')),
    content     jsonb NOT NULL,
    usage       jsonb CHECK (usage IS NULL OR jsonb_typeof(usage) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, seq),
    FOREIGN KEY (user_id, run_id) REFERENCES workflow_executions (user_id, id) ON DELETE CASCADE
);
CREATE INDEX team_messages_run_turn_idx ON team_messages (run_id, turn);

SELECT enable_tenant_rls('team_messages');

GRANT SELECT, INSERT, DELETE ON team_messages TO auralink_app;
