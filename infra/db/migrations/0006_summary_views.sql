-- Summaries of runs, MCP usage and LLM calls, refreshed on a schedule.
--
-- A materialized view cannot have row-level security, so the service role gets no access to
-- these three. It reads them through the my_* views below, which filter on the caller, and
-- refreshes them through refresh_summary_views(), which runs as the owner.
--
-- A refresh runs the view's query as the owner, and the owner is subject to the tenant policies
-- (FORCE ROW LEVEL SECURITY): without the read policies below every summary would be empty. They
-- name the role running this migration (the owner) and allow SELECT only.

DO $$
DECLARE
    source text;
BEGIN
    FOREACH source IN ARRAY ARRAY['workflow_executions', 'mcp_operation_logs', 'llm_performance_metrics'] LOOP
        EXECUTE format(
            'CREATE POLICY summary_refresh ON %I FOR SELECT TO %I USING (true)', source, current_user
        );
    END LOOP;
END
$$;

CREATE MATERIALIZED VIEW agent_performance_summary AS
SELECT
    user_id,
    framework,
    workflow_id,
    count(*)                                           AS runs,
    count(*) FILTER (WHERE status = 'succeeded')       AS successes,
    count(*) FILTER (WHERE status = 'failed')          AS failures,
    count(*) FILTER (WHERE status = 'cancelled')       AS cancellations,
    avg(extract(epoch FROM finished_at - started_at) * 1000)
        FILTER (WHERE finished_at IS NOT NULL AND started_at IS NOT NULL) AS avg_duration_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000)
        FILTER (WHERE finished_at IS NOT NULL AND started_at IS NOT NULL) AS p95_duration_ms,
    max(created_at)                                    AS last_run_at
FROM workflow_executions
GROUP BY user_id, framework, workflow_id;

-- NULLS NOT DISTINCT: runs without a stored workflow form one group per user and framework.
CREATE UNIQUE INDEX agent_performance_summary_key
    ON agent_performance_summary (user_id, framework, workflow_id) NULLS NOT DISTINCT;

CREATE MATERIALIZED VIEW mcp_usage_summary AS
SELECT
    user_id,
    server_name,
    tool,
    (created_at AT TIME ZONE 'UTC')::date              AS day,
    count(*)                                           AS calls,
    count(*) FILTER (WHERE status = 'error')           AS errors,
    count(*) FILTER (WHERE status = 'rejected')        AS rejected,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)  AS p50_latency_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms,
    coalesce(sum(request_bytes), 0)                    AS request_bytes,
    coalesce(sum(response_bytes), 0)                   AS response_bytes
FROM mcp_operation_logs
GROUP BY user_id, server_name, tool, (created_at AT TIME ZONE 'UTC')::date;

CREATE UNIQUE INDEX mcp_usage_summary_key
    ON mcp_usage_summary (user_id, server_name, tool, day) NULLS NOT DISTINCT;

CREATE MATERIALIZED VIEW llm_comparison_view AS
SELECT
    user_id,
    provider,
    model,
    count(*)                                           AS calls,
    count(*) FILTER (WHERE status = 'error')           AS errors,
    (count(*) FILTER (WHERE status = 'error'))::double precision / count(*) AS error_rate,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)  AS p50_latency_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms,
    sum(input_tokens)                                  AS input_tokens,
    sum(output_tokens)                                 AS output_tokens,
    sum(cost_usd)                                      AS cost_usd,
    max(created_at)                                    AS last_call_at
FROM llm_performance_metrics
GROUP BY user_id, provider, model;

CREATE UNIQUE INDEX llm_comparison_view_key ON llm_comparison_view (user_id, provider, model);

REVOKE ALL ON agent_performance_summary, mcp_usage_summary, llm_comparison_view FROM PUBLIC;

-- security_barrier: the caller filter is applied before any function of the caller's query
-- sees a row.
CREATE VIEW my_agent_performance_summary WITH (security_barrier) AS
    SELECT * FROM agent_performance_summary WHERE user_id = app_current_user_id();
CREATE VIEW my_mcp_usage_summary WITH (security_barrier) AS
    SELECT * FROM mcp_usage_summary WHERE user_id = app_current_user_id();
CREATE VIEW my_llm_comparison WITH (security_barrier) AS
    SELECT * FROM llm_comparison_view WHERE user_id = app_current_user_id();

GRANT SELECT ON my_agent_performance_summary, my_mcp_usage_summary, my_llm_comparison TO auralink_app;

-- Called by the scheduled refresh (as the service role); returns the views it refreshed.
-- CONCURRENTLY keeps the views readable while they are rebuilt.
CREATE FUNCTION refresh_summary_views() RETURNS SETOF text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS
$$
BEGIN
    REFRESH MATERIALIZED VIEW CONCURRENTLY public.agent_performance_summary;
    RETURN NEXT 'agent_performance_summary';
    REFRESH MATERIALIZED VIEW CONCURRENTLY public.mcp_usage_summary;
    RETURN NEXT 'mcp_usage_summary';
    REFRESH MATERIALIZED VIEW CONCURRENTLY public.llm_comparison_view;
    RETURN NEXT 'llm_comparison_view';
END
$$;

REVOKE EXECUTE ON FUNCTION refresh_summary_views() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_summary_views() TO auralink_app;
