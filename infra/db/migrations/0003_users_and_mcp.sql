-- Users, their MCP connections, the log of MCP operations and the idempotency records.
--
-- Every user-owned table carries user_id (the JWT subject) and is protected by row-level
-- security. A table that references another user-owned table does so through (user_id, id), so
-- that a row can never point at a row of another user: foreign key checks ignore RLS.

-- The callers seen so far; identity itself always comes from the token.
CREATE TABLE users (
    user_id        text PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 255),
    email          text CHECK (length(email) <= 320),
    role           text NOT NULL DEFAULT 'user' CHECK (length(role) BETWEEN 1 AND 64),
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_mcp_connections (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           text NOT NULL,
    -- NULL for a server of the user's own (then endpoint is required).
    server_id         uuid REFERENCES mcp_servers (id) ON DELETE RESTRICT,
    name              text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    -- Overrides the registry's default endpoint when set.
    endpoint          text CHECK (endpoint ~ '^https?://'),
    -- Ciphertext from auralink.crypto, bound to (user_id, id); never the plain credential.
    credentials       text,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'connected', 'error', 'disabled')),
    tools             jsonb CHECK (jsonb_typeof(tools) = 'array'),
    tools_fetched_at  timestamptz,
    last_tested_at    timestamptz,
    last_latency_ms   integer CHECK (last_latency_ms >= 0),
    last_error_code   text,
    protocol_version  text,
    discover_result   jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name),
    UNIQUE (user_id, id),
    CHECK (server_id IS NOT NULL OR endpoint IS NOT NULL)
);
CREATE INDEX user_mcp_connections_server_idx ON user_mcp_connections (server_id);

CREATE TABLE mcp_operation_logs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         text NOT NULL,
    connection_id   uuid,
    server_name     text NOT NULL,
    tool            text,
    operation       text NOT NULL CHECK (length(operation) BETWEEN 1 AND 64),
    status          text NOT NULL CHECK (status IN ('success', 'error', 'rejected')),
    error_code      text,
    latency_ms      integer CHECK (latency_ms >= 0),
    request_bytes   integer CHECK (request_bytes >= 0),
    response_bytes  integer CHECK (response_bytes >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- The log outlives the connection it was written for.
    FOREIGN KEY (user_id, connection_id) REFERENCES user_mcp_connections (user_id, id)
        ON DELETE SET NULL (connection_id)
);
CREATE INDEX mcp_operation_logs_user_created_idx ON mcp_operation_logs (user_id, created_at DESC);
CREATE INDEX mcp_operation_logs_connection_idx ON mcp_operation_logs (connection_id, created_at DESC)
    WHERE connection_id IS NOT NULL;

-- A repeated request with the same Idempotency-Key returns the first answer.
CREATE TABLE idempotency_keys (
    user_id       text NOT NULL,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  text NOT NULL,
    status        text NOT NULL DEFAULT 'in_progress' CHECK (status IN ('in_progress', 'completed')),
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, key),
    CHECK (status = 'in_progress' OR response IS NOT NULL)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

CREATE TRIGGER set_updated_at BEFORE UPDATE ON user_mcp_connections
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON idempotency_keys
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

SELECT enable_tenant_rls('users');
SELECT enable_tenant_rls('user_mcp_connections');
SELECT enable_tenant_rls('mcp_operation_logs');
SELECT enable_tenant_rls('idempotency_keys');

GRANT SELECT, INSERT, UPDATE ON users TO auralink_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON user_mcp_connections, idempotency_keys TO auralink_app;
-- The operation log is append-only for the service.
GRANT SELECT, INSERT ON mcp_operation_logs TO auralink_app;
