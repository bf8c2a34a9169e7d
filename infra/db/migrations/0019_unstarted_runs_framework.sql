-- The run state machine chooses a run's step function by the run's framework (CrewAI's runs step
-- in an image of their own), so every start of an execution names it, the sweeper's included:
-- unstarted_runs answers it too. Its other columns and its rules are those of 0013.
DROP FUNCTION unstarted_runs(interval, integer);

CREATE FUNCTION unstarted_runs(older_than interval, max_runs integer)
    RETURNS TABLE (run_id uuid, user_id text, status text, execution integer, waiting_s double precision,
                   framework text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS
$$
    SELECT r.id, r.user_id, r.status, r.executions, extract(epoch FROM now() - r.updated_at)::double precision,
           r.framework
      FROM public.workflow_executions r
     WHERE r.execution_arn IS NULL
       AND r.status IN ('queued', 'running')
       AND r.executions >= 1
       AND r.updated_at < now() - older_than
     ORDER BY r.updated_at
     LIMIT max_runs;
$$;
REVOKE EXECUTE ON FUNCTION unstarted_runs(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unstarted_runs(interval, integer) TO auralink_app;
