-- The MCP gateway: operations are logged before they run and completed after, and the scheduled
-- probe records the health of each enabled server.

-- A call is written as 'pending' before the server is contacted, in its own committed
-- transaction, and completed afterwards; a container that dies in between leaves a pending row,
-- never a missing one (the probe closes pending rows that are older than any call could last).
ALTER TABLE mcp_operation_logs DROP CONSTRAINT mcp_operation_logs_status_check;
ALTER TABLE mcp_operation_logs ADD CONSTRAINT mcp_operation_logs_status_check
    CHECK (status IN ('pending', 'success', 'error', 'rejected'));
ALTER TABLE mcp_operation_logs
    ADD COLUMN attempts     smallint CHECK (attempts >= 0),
    ADD COLUMN error_message text CHECK (length(error_message) <= 500),
    ADD COLUMN finished_at  timestamptz;
CREATE INDEX mcp_operation_logs_pending_idx ON mcp_operation_logs (created_at) WHERE status = 'pending';

-- The service completes rows; it never rewrites who, what or when.
GRANT UPDATE (status, error_code, error_message, latency_ms, response_bytes, attempts, finished_at)
    ON mcp_operation_logs TO auralink_app;

-- Closing abandoned rows crosses users: only through this function.
CREATE FUNCTION close_abandoned_mcp_operations(older_than interval) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS
$$
    WITH closed AS (
        UPDATE public.mcp_operation_logs
           SET status = 'error', error_code = 'abandoned', finished_at = now(),
               error_message = 'The call did not complete (the function ended before it finished)'
         WHERE status = 'pending' AND created_at < now() - older_than
        RETURNING 1
    )
    SELECT count(*)::integer FROM closed;
$$;
REVOKE EXECUTE ON FUNCTION close_abandoned_mcp_operations(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION close_abandoned_mcp_operations(interval) TO auralink_app;

-- The owner reads pending rows through the refresh policy of 0006 already; the function above
-- runs as the owner, who also needs to update them.
DO $$
BEGIN
    EXECUTE format(
        'CREATE POLICY abandoned_close ON mcp_operation_logs FOR UPDATE TO %I'
        ' USING (status = %L) WITH CHECK (true)',
        current_user, 'pending'
    );
END
$$;

-- What the server said about itself at the last handshake or discovery (name, version,
-- capabilities, instructions).
ALTER TABLE user_mcp_connections
    ADD COLUMN server_info jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(server_info) = 'object');

-- Health of the servers of the registry, as the scheduled probe last saw it (no user data).
CREATE TABLE mcp_server_health (
    server_name       text PRIMARY KEY CHECK (server_name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    status            text NOT NULL CHECK (status IN ('ok', 'error')),
    latency_ms        integer CHECK (latency_ms >= 0),
    error_code        text,
    protocol_version  text,
    tool_count        integer CHECK (tool_count >= 0),
    checked_at        timestamptz NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON mcp_server_health TO auralink_app;
