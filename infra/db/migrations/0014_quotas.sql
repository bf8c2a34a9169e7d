-- Quotas per user: runs at once, runs per hour, the service's LLM tokens and cost per day, and
-- the chat route's calls per minute (docs/quotas.md).

-- The counters of 0007 count the quotas too, in windows of an hour and a day as well as a
-- minute: a row remembers its window's length so that the purge knows when it is over. A day's
-- tokens or micro-dollars can pass what an integer holds.
ALTER TABLE mcp_rate_windows
    ADD COLUMN window_seconds integer NOT NULL DEFAULT 60 CHECK (window_seconds BETWEEN 1 AND 86400),
    ALTER COLUMN calls TYPE bigint;

-- One row per user, locked by the transaction that creates a run: two starts of one user are
-- counted one after the other, so that two cannot both take the last slot of the concurrent
-- runs. (A row lock rather than an advisory lock: RDS Proxy pins a session that takes one.)
CREATE TABLE quota_locks (
    user_id    text PRIMARY KEY,
    locked_at  timestamptz NOT NULL DEFAULT now()
);

-- Every refusal, for the user (GET /api/v1/usage) and the operator.
CREATE TABLE quota_refusals (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     text NOT NULL,
    quota       text NOT NULL CHECK (quota IN (
                    'concurrent_runs', 'runs_per_hour', 'llm_tokens_per_day', 'llm_cost_per_day_usd',
                    'llm_chat_per_minute'
                )),
    limit_value numeric(20, 6) NOT NULL CHECK (limit_value >= 0),
    used        numeric(20, 6) NOT NULL CHECK (used >= 0),
    -- NULL for the concurrent runs: a slot frees when a run ends.
    resets_at   timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quota_refusals_user_created_idx ON quota_refusals (user_id, created_at DESC);

SELECT enable_tenant_rls('quota_locks');
SELECT enable_tenant_rls('quota_refusals');
GRANT SELECT, INSERT, UPDATE ON quota_locks TO auralink_app;
GRANT SELECT, INSERT ON quota_refusals TO auralink_app;
