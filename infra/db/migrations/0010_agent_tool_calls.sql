-- Every call of an agent tool (built-in or MCP), whatever its outcome. Calls that went through the
-- MCP gateway also have their row in mcp_operation_logs, named by mcp_operation_id (no foreign key:
-- the two logs are kept and purged on their own schedules).

CREATE TABLE agent_tool_calls (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           text NOT NULL,
    -- NULL for a call made outside a run.
    run_id            uuid,
    -- A built-in name or mcp:<connection name>/<tool>, as the caller named it.
    tool              text NOT NULL CHECK (length(tool) BETWEEN 1 AND 256),
    status            text NOT NULL CHECK (status IN ('success', 'error')),
    error_code        text CHECK (length(error_code) BETWEEN 1 AND 64),
    latency_ms        integer NOT NULL CHECK (latency_ms >= 0),
    request_bytes     integer NOT NULL CHECK (request_bytes >= 0),
    response_bytes    integer NOT NULL CHECK (response_bytes >= 0),
    mcp_operation_id  uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- A call belongs to a run of the same user, and goes with it.
    FOREIGN KEY (user_id, run_id) REFERENCES workflow_executions (user_id, id) ON DELETE CASCADE,
    CHECK ((status = 'error') = (error_code IS NOT NULL))
);
CREATE INDEX agent_tool_calls_user_created_idx ON agent_tool_calls (user_id, created_at DESC);
CREATE INDEX agent_tool_calls_run_idx ON agent_tool_calls (run_id) WHERE run_id IS NOT NULL;

SELECT enable_tenant_rls('agent_tool_calls');

-- Append-only for the service, like the other logs.
GRANT SELECT, INSERT ON agent_tool_calls TO auralink_app;
