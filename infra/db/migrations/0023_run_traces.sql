-- The trace a run belongs to: the X-Ray trace header of the request that started it. Every
-- execution of the run (its first, those after a resume, one the sweeper starts) carries it into
-- Step Functions and the run's steps, so that one run is one trace however long it waits.
ALTER TABLE workflow_executions
    ADD COLUMN trace_header text CHECK (char_length(trace_header) <= 256);
