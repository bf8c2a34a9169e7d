-- Rate limit counters and circuit breakers of the MCP gateway, shared by every Lambda container.
--
-- Neither table belongs to a user, so neither carries user_id nor row-level security: a rate
-- limit bucket names its subject in a string ('user:<sha256 of the subject>' or
-- 'server:<name>'), and a breaker belongs to a server. The application role reads and writes
-- them directly; every change is one atomic statement or happens under a row lock.

-- One row per bucket and fixed one-minute window; calls counts the calls admitted in it.
CREATE TABLE mcp_rate_windows (
    bucket        text NOT NULL CHECK (length(bucket) BETWEEN 1 AND 300),
    window_start  timestamptz NOT NULL,
    calls         integer NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (bucket, window_start)
);
-- The cleanup deletes by age across buckets.
CREATE INDEX mcp_rate_windows_start_idx ON mcp_rate_windows (window_start);

GRANT SELECT, INSERT, UPDATE, DELETE ON mcp_rate_windows TO auralink_app;

-- One row per server, created by its first failure. 'half_open' is stored once a trial call is
-- admitted; until then an open breaker whose half_open_at has passed is half-open in effect.
CREATE TABLE mcp_circuit_breakers (
    server         text PRIMARY KEY CHECK (length(server) BETWEEN 1 AND 255),
    state          text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
    -- Incremented at every transition: outcomes of calls admitted before it are ignored.
    generation     bigint NOT NULL DEFAULT 0,
    -- The most recent failures while closed (at most failure_threshold of them).
    failure_times  timestamptz[] NOT NULL DEFAULT '{}',
    opened_at      timestamptz,
    half_open_at   timestamptz,
    -- Trial calls in flight while half-open: permit id -> lease expiry (epoch seconds).
    trials         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(trials) = 'object'),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (state = 'closed' OR (opened_at IS NOT NULL AND half_open_at IS NOT NULL))
);

GRANT SELECT, INSERT, UPDATE ON mcp_circuit_breakers TO auralink_app;
