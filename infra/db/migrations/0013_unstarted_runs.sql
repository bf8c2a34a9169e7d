-- Runs whose execution never started. A run's row is committed before its Step Functions
-- execution starts, and the execution's ARN is recorded once it has (a resume clears it until
-- the next execution has started). A function that dies in between leaves a run queued (or,
-- after a resume, running) with no ARN; the scheduled sweeper starts such runs, or fails them
-- when they have waited too long.

-- Few rows ever match: the sweeper finds them, oldest first, through this small index.
CREATE INDEX workflow_executions_unstarted_idx ON workflow_executions (updated_at)
    WHERE execution_arn IS NULL AND status IN ('queued', 'running');

-- Finding them crosses users: only through this function, which answers no more than what
-- starting one needs (the run, its owner, its status and execution number) and how long it has
-- waited. Starting or failing a run then happens in its owner's tenant transaction, under
-- row-level security. The function reads as the owner, through the SELECT policy of 0006.
-- Runs with no execution counted (executions = 0) are not started through Step Functions.
CREATE FUNCTION unstarted_runs(older_than interval, max_runs integer)
    RETURNS TABLE (run_id uuid, user_id text, status text, execution integer, waiting_s double precision)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS
$$
    SELECT r.id, r.user_id, r.status, r.executions, extract(epoch FROM now() - r.updated_at)::double precision
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
