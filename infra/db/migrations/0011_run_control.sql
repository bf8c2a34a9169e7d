-- What the runs API needs to control a run: the answer to a waiting run, the options it was
-- started with, and how many Step Functions executions it has had (each execution is named
-- <run id>-<n>, and a name can be used once).
--
-- resume_input holds {"value": <the answer>} while an answer waits to be consumed by the next
-- step, NULL otherwise: the wrapper tells "no answer" apart from an answer that is JSON null.
ALTER TABLE workflow_executions
    ADD COLUMN resume_input jsonb CHECK (resume_input IS NULL OR (
        jsonb_typeof(resume_input) = 'object' AND resume_input ? 'value'
    )),
    ADD COLUMN options      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    ADD COLUMN executions   integer NOT NULL DEFAULT 0 CHECK (executions >= 0);

-- llm_performance_metrics (run_id) is indexed since 0005: a run's usage is summed through it.
