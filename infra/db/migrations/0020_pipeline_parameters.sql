-- Pipelines are stored in prefect_flows. A pipeline may state the JSON Schema its runs'
-- parameters must satisfy; NULL: any JSON object.
ALTER TABLE prefect_flows
    ADD COLUMN parameters_schema jsonb CHECK (parameters_schema IS NULL OR jsonb_typeof(parameters_schema) = 'object');
