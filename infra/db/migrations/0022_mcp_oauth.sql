-- Connections to MCP servers behind OAuth (the MCP authorization specification).
--
-- A connection to such a server is stored before the user has signed in, in the state
-- 'authorization_required', and becomes 'connected' when the authorization server's redirect
-- reaches the callback. Its OAuth session (the authorization server, the client, the tokens) is
-- one ciphertext from auralink.crypto bound to (user_id, id), like `credentials`.
ALTER TABLE user_mcp_connections
    DROP CONSTRAINT user_mcp_connections_status_check,
    ADD CONSTRAINT user_mcp_connections_status_check
        CHECK (status IN ('pending', 'connected', 'error', 'disabled', 'authorization_required')),
    ADD COLUMN oauth text;

-- One row per authorization request in flight. The callback carries no bearer token: the
-- `state` parameter is what binds the redirect to a user and a connection. Only its SHA-256 is
-- kept; the PKCE verifier and the client the request was made with are one ciphertext bound to
-- the user and the connection. A row is consumed once (used_at), so a replay is told from a
-- state that never existed.
CREATE TABLE mcp_oauth_states (
    state_hash     bytea PRIMARY KEY CHECK (length(state_hash) = 32),
    user_id        text NOT NULL,
    connection_id  uuid NOT NULL,
    request        text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    FOREIGN KEY (user_id, connection_id) REFERENCES user_mcp_connections (user_id, id) ON DELETE CASCADE
);
CREATE INDEX mcp_oauth_states_connection_idx ON mcp_oauth_states (connection_id);
CREATE INDEX mcp_oauth_states_expires_idx ON mcp_oauth_states (expires_at);
SELECT enable_tenant_rls('mcp_oauth_states');
GRANT SELECT, INSERT, UPDATE, DELETE ON mcp_oauth_states TO auralink_app;

-- Whose state this is, for the callback to open the user's transaction. It answers only someone
-- who holds the state itself (its hash is the key), and says nothing else about the row.
CREATE FUNCTION mcp_oauth_state_owner(hash bytea) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS
$$
    SELECT s.user_id FROM public.mcp_oauth_states s WHERE s.state_hash = hash;
$$;
REVOKE EXECUTE ON FUNCTION mcp_oauth_state_owner(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mcp_oauth_state_owner(bytea) TO auralink_app;

-- States past their expiry, of every user, removed by the scheduled probe.
CREATE FUNCTION delete_expired_mcp_oauth_states(older_than interval) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS
$$
    WITH gone AS (
        DELETE FROM public.mcp_oauth_states WHERE expires_at < now() - older_than RETURNING 1
    )
    SELECT count(*)::integer FROM gone;
$$;
REVOKE EXECUTE ON FUNCTION delete_expired_mcp_oauth_states(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION delete_expired_mcp_oauth_states(interval) TO auralink_app;

DO $$
BEGIN
    EXECUTE format(
        'CREATE POLICY expired_delete ON mcp_oauth_states FOR DELETE TO %I USING (true)', current_user
    );
    EXECUTE format(
        'CREATE POLICY owner_lookup ON mcp_oauth_states FOR SELECT TO %I USING (true)', current_user
    );
END
$$;

-- Clients registered dynamically (RFC 7591), one per authorization server and redirect URI,
-- shared by every user of the deployment: a registration holds no user data. The secret, if the
-- server issued one, is a ciphertext bound to the issuer.
CREATE TABLE mcp_oauth_clients (
    issuer          text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 2000),
    redirect_uri    text NOT NULL CHECK (length(redirect_uri) BETWEEN 1 AND 2000),
    client_id       text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 1000),
    client_secret   text,
    auth_method     text NOT NULL CHECK (auth_method IN ('none', 'client_secret_post', 'client_secret_basic')),
    secret_expires_at timestamptz,
    registered_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, redirect_uri)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON mcp_oauth_clients TO auralink_app;
