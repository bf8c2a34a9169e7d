-- LLM preferences and call metrics, and the knowledge graph of the self-hosted Memory MCP server.

CREATE TABLE user_llm_preferences (
    user_id        text PRIMARY KEY,
    -- Record id for the associated data of the encrypted provider keys.
    id             uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    -- "<provider>/<model>"; NULL: the deployment's default.
    default_model  text CHECK (length(default_model) BETWEEN 1 AND 300),
    -- Per provider: {"api_key": <ciphertext>, "base_url": ..., "enabled": ...}; keys never in clear.
    providers      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(providers) = 'object'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE llm_performance_metrics (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        text NOT NULL,
    provider       text NOT NULL,
    model          text NOT NULL,
    run_id         uuid,
    status         text NOT NULL CHECK (status IN ('success', 'error')),
    error_code     text,
    latency_ms     integer NOT NULL CHECK (latency_ms >= 0),
    input_tokens   integer NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens  integer NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cost_usd       numeric(14, 6) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (user_id, run_id) REFERENCES workflow_executions (user_id, id) ON DELETE SET NULL (run_id)
);
CREATE INDEX llm_performance_metrics_user_created_idx ON llm_performance_metrics (user_id, created_at DESC);
CREATE INDEX llm_performance_metrics_run_idx ON llm_performance_metrics (run_id) WHERE run_id IS NOT NULL;

CREATE TABLE memory_entities (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       text NOT NULL,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
    entity_type   text NOT NULL CHECK (length(entity_type) BETWEEN 1 AND 200),
    observations  text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name)
);

-- Relations name their entities, as the Memory server's tools do; deleting or renaming an
-- entity carries its relations with it.
CREATE TABLE memory_relations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        text NOT NULL,
    from_entity    text NOT NULL,
    to_entity      text NOT NULL,
    relation_type  text NOT NULL CHECK (length(relation_type) BETWEEN 1 AND 200),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, from_entity, to_entity, relation_type),
    FOREIGN KEY (user_id, from_entity) REFERENCES memory_entities (user_id, name)
        ON DELETE CASCADE ON UPDATE CASCADE,
    FOREIGN KEY (user_id, to_entity) REFERENCES memory_entities (user_id, name)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX memory_relations_to_idx ON memory_relations (user_id, to_entity);

CREATE TRIGGER set_updated_at BEFORE UPDATE ON user_llm_preferences
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON memory_entities
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

SELECT enable_tenant_rls('user_llm_preferences');
SELECT enable_tenant_rls('llm_performance_metrics');
SELECT enable_tenant_rls('memory_entities');
SELECT enable_tenant_rls('memory_relations');

GRANT SELECT, INSERT, UPDATE, DELETE
    ON user_llm_preferences, memory_entities, memory_relations
    TO auralink_app;
-- Call metrics are append-only for the service.
GRANT SELECT, INSERT ON llm_performance_metrics TO auralink_app;
