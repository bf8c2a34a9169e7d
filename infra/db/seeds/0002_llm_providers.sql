-- LLM providers. Meta's Llama models are served through Amazon Bedrock, whose endpoint depends
-- on the deployment's region, hence no base URL.

INSERT INTO llm_providers (name, display_name, api_style, base_url)
VALUES
    ('openai', 'OpenAI', 'openai', 'https://api.openai.com/v1'),
    ('anthropic', 'Anthropic', 'anthropic', 'https://api.anthropic.com'),
    ('google', 'Google', 'gemini', 'https://generativelanguage.googleapis.com'),
    ('meta', 'Meta (Amazon Bedrock)', 'bedrock', NULL)
ON CONFLICT (name) DO UPDATE SET
    display_name = EXCLUDED.display_name,
    api_style    = EXCLUDED.api_style,
    base_url     = EXCLUDED.base_url
WHERE (llm_providers.display_name, llm_providers.api_style, llm_providers.base_url)
      IS DISTINCT FROM (EXCLUDED.display_name, EXCLUDED.api_style, EXCLUDED.base_url);
