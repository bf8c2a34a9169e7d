-- Pipeline runs. A run is of a workflow, a team or a pipeline (`kind`); a pipeline run names its
-- pipeline, whose definition is copied onto the run when it is started (`definition`).
ALTER TABLE workflow_executions
    DROP CONSTRAINT workflow_executions_kind_check,
    ADD CONSTRAINT workflow_executions_kind_check CHECK (kind IN ('workflow', 'team', 'pipeline')),
    ADD COLUMN pipeline_id uuid,
    ADD FOREIGN KEY (user_id, pipeline_id) REFERENCES prefect_flows (user_id, id) ON DELETE SET NULL (pipeline_id),
    ADD CHECK (kind = 'pipeline' OR pipeline_id IS NULL);
CREATE INDEX workflow_executions_pipeline_idx ON workflow_executions (pipeline_id, created_at DESC, id DESC)
    WHERE pipeline_id IS NOT NULL;

-- One Prefect flow run per pipeline run, kept when the pipeline is deleted: the run's history
-- (its task runs as Prefect ran them) outlives the definition.
ALTER TABLE prefect_flow_runs
    ALTER COLUMN flow_id DROP NOT NULL,
    DROP CONSTRAINT prefect_flow_runs_user_id_flow_id_fkey,
    ADD FOREIGN KEY (user_id, flow_id) REFERENCES prefect_flows (user_id, id) ON DELETE SET NULL (flow_id);
DROP INDEX prefect_flow_runs_run_idx;
CREATE UNIQUE INDEX prefect_flow_runs_run_idx ON prefect_flow_runs (run_id) WHERE run_id IS NOT NULL;

-- Where Prefect's UI shows the flow run, written by the run step (which knows the Prefect API), so
-- that reading a run never calls Prefect or needs its secret.
ALTER TABLE prefect_flow_runs
    ADD COLUMN ui_url text CHECK (length(ui_url) <= 2000);

-- A run that a pipeline run started (a workflow or team step) names it: its model calls count in
-- the pipeline run's usage.
ALTER TABLE workflow_executions
    ADD COLUMN parent_run_id uuid,
    ADD FOREIGN KEY (user_id, parent_run_id) REFERENCES workflow_executions (user_id, id)
        ON DELETE SET NULL (parent_run_id);
CREATE INDEX workflow_executions_parent_idx ON workflow_executions (parent_run_id) WHERE parent_run_id IS NOT NULL;
