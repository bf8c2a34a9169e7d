-- Registries shared by every user: the MCP servers the product knows and the LLM providers and
-- models it can call. They hold no user rows; the service reads them and never writes them
-- (seeds and operators do, as the owner).

CREATE TABLE mcp_servers (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name              text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    server_type       text NOT NULL CHECK (server_type IN ('remote', 'self-hosted')),
    display_name      text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    description       text NOT NULL DEFAULT '',
    -- NULL for self-hosted servers: their URL comes from the deployment's MCP configuration.
    default_endpoint  text CHECK (default_endpoint ~ '^https?://'),
    transport         text NOT NULL DEFAULT 'streamable-http' CHECK (transport = 'streamable-http'),
    auth_kind         text NOT NULL DEFAULT 'none' CHECK (auth_kind IN ('none', 'bearer', 'header', 'oauth')),
    capabilities      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(capabilities) = 'object'),
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (server_type = 'self-hosted' OR default_endpoint IS NOT NULL)
);

CREATE TABLE llm_providers (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    api_style     text NOT NULL CHECK (api_style IN ('openai', 'anthropic', 'gemini', 'bedrock')),
    -- NULL where the endpoint depends on the deployment (Bedrock's regional endpoint).
    base_url      text CHECK (base_url ~ '^https://'),
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE llm_models (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id            uuid NOT NULL REFERENCES llm_providers (id) ON DELETE CASCADE,
    -- The identifier the provider's API expects (e.g. gpt-4o, meta.llama3-1-70b-instruct-v1:0).
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    display_name           text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    context_window         integer NOT NULL CHECK (context_window > 0),
    -- US dollars per million tokens, as the providers publish them.
    input_price_per_mtok   numeric(12, 4) NOT NULL CHECK (input_price_per_mtok >= 0),
    output_price_per_mtok  numeric(12, 4) NOT NULL CHECK (output_price_per_mtok >= 0),
    supports_tools         boolean NOT NULL DEFAULT false,
    capabilities           text[] NOT NULL DEFAULT '{}',
    enabled                boolean NOT NULL DEFAULT true,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider_id, name)
);

CREATE TRIGGER set_updated_at BEFORE UPDATE ON mcp_servers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON llm_providers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER set_updated_at BEFORE UPDATE ON llm_models
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

GRANT SELECT ON mcp_servers, llm_providers, llm_models TO auralink_app;
