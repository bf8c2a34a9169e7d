-- Agent workflows (LangGraph), teams (CrewAI, AutoGen), Prefect flows, and the runs that execute
-- any of them. A run is the unit the API starts, polls, resumes and cancels; the Step Functions
-- task resumes it from its checkpoint (progress, steps_done) on every call.

CREATE TABLE agent_workflows (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      text NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description  text NOT NULL DEFAULT '',
    definition   jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    version      integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name),
    UNIQUE (user_id, id)
);

CREATE TABLE workflow_executions (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           text NOT NULL,
    -- NULL for a run that is not bound to a stored workflow (a team conversation, an ad hoc graph).
    workflow_id       uuid,
    framework         text NOT NULL CHECK (framework ~ '^[a-z][a-z0-9_-]{0,31}$'),
    status            text NOT NULL DEFAULT 'queued' CHECK (
                          status IN ('queued', 'running', 'waiting_for_input', 'succeeded', 'failed', 'cancelled')
                      ),
    input             jsonb NOT NULL DEFAULT '{}',
    output            jsonb,
    error             jsonb,
    progress          jsonb NOT NULL DEFAULT '{}',
    events            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(events) = 'array'),
    steps_done        integer NOT NULL DEFAULT 0 CHECK (steps_done >= 0),
    cancel_requested  boolean NOT NULL DEFAULT false,
    idempotency_key   text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    execution_arn     text,
    started_at        timestamptz,
    finished_at       timestamptz,
    usage             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(usage) = 'object'),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, id),
    FOREIGN KEY (user_id, workflow_id) REFERENCES agent_workflows (user_id, id)
        ON DELETE SET NULL (workflow_id),
    CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
);
CREATE UNIQUE INDEX workflow_executions_idempotency_idx ON workflow_executions (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX workflow_executions_user_created_idx ON workflow_executions (user_id, created_at DESC);
CREATE INDEX workflow_executions_workflow_idx ON workflow_executions (workflow_id)
    WHERE workflow_id IS NOT NULL;
-- Runs that are still alive, for the listing of active runs and for stuck-run sweeps.
CREATE INDEX workflow_executions_active_idx ON workflow_executions (user_id, status)
    WHERE status IN ('queued', 'running', 'waiting_for_input');

CREATE TABLE agent_teams (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      text NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description  text NOT NULL DEFAULT '',
    framework    text NOT NULL CHECK (framework IN ('crewai', 'autogen')),
    -- Process (sequential, hierarchical, round robin...), termination and limits.
    config       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name),
    UNIQUE (user_id, id)
);

CREATE TABLE team_members (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     text NOT NULL,
    team_id     uuid NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role        text NOT NULL CHECK (length(role) BETWEEN 1 AND 500),
    goal        text NOT NULL DEFAULT '',
    backstory   text NOT NULL DEFAULT '',
    -- NULL: the user's default model.
    model       text,
    -- MCP tools the member may call, as "<connection name>/<tool>".
    tools       text[] NOT NULL DEFAULT '{}',
    position    integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (team_id, name),
    FOREIGN KEY (user_id, team_id) REFERENCES agent_teams (user_id, id) ON DELETE CASCADE
);
CREATE INDEX team_members_team_idx ON team_members (team_id, position);

CREATE TABLE team_conversations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     text NOT NULL,
    team_id     uuid NOT NULL,
    run_id      uuid,
    task        text NOT NULL DEFAULT '',
    messages    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(messages) = 'array'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (user_id, team_id) REFERENCES agent_teams (user_id, id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, run_id) REFERENCES workflow_executions (user_id, id) ON DELETE SET NULL (run_id)
);
CREATE INDEX team_conversations_team_idx ON team_conversations (team_id, created_at DESC);
CREATE INDEX team_conversations_run_idx ON team_conversations (run_id) WHERE run_id IS NOT NULL;

CREATE TABLE prefect_flows (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      text NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description  text NOT NULL DEFAULT '',
    definition   jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    version      integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name),
    UNIQUE (user_id, id)
);

CREATE TABLE prefect_flow_runs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          text NOT NULL,
    flow_id          uuid NOT NULL,
    run_id           uuid,
    -- Prefect's own id of the flow run, once Prefect has created it.
    prefect_run_id   text,
    -- Prefect's state types, in Prefect's spelling.
    state            text NOT NULL DEFAULT 'SCHEDULED' CHECK (
                         state IN ('SCHEDULED', 'PENDING', 'RUNNING', 'PAUSED', 'CANCELLING',
                                   'COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')
                     ),
    parameters       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
    result           jsonb,
    task_runs        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(task_runs) = 'array'),
    started_at       timestamptz,
    finished_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (user_id, flow_id) REFERENCES prefect_flows (user_id, id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, run_id) REFERENCES workflow_executions (user_id, id) ON DELETE SET NULL (run_id)
);
CREATE INDEX prefect_flow_runs_flow_idx ON prefect_flow_runs (flow_id, created_at DESC);
CREATE INDEX prefect_flow_runs_run_idx ON prefect_flow_runs (run_id) WHERE run_id IS NOT NULL;

CREATE TRIGGER set_updated_at BEFORE UPDATE ON agent_workflows
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON workflow_executions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON agent_teams
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON team_members
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON team_conversations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON prefect_flows
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON prefect_flow_runs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

SELECT enable_tenant_rls('agent_workflows');
SELECT enable_tenant_rls('workflow_executions');
SELECT enable_tenant_rls('agent_teams');
SELECT enable_tenant_rls('team_members');
SELECT enable_tenant_rls('team_conversations');
SELECT enable_tenant_rls('prefect_flows');
SELECT enable_tenant_rls('prefect_flow_runs');

GRANT SELECT, INSERT, UPDATE, DELETE
    ON agent_workflows, workflow_executions, agent_teams, team_members, team_conversations,
       prefect_flows, prefect_flow_runs
    TO auralink_app;
