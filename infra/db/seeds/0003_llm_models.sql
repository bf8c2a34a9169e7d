-- Models with the providers' published list prices in US dollars per million tokens (standard
-- tier; Gemini 1.5 Pro at its price for prompts up to 128k tokens; Llama on Bedrock on demand in
-- us-east-1). Prices change: an upsert here is how a new price reaches every deployment.

INSERT INTO llm_models
    (provider_id, name, display_name, context_window, input_price_per_mtok, output_price_per_mtok,
     supports_tools, capabilities)
SELECT provider.id, model.name, model.display_name, model.context_window, model.input_price,
       model.output_price, model.supports_tools, model.capabilities
FROM (
    VALUES
        ('openai', 'gpt-4o', 'GPT-4o', 128000, 2.50, 10.00, true,
         ARRAY['chat', 'vision', 'tools', 'json']),
        ('openai', 'gpt-4o-mini', 'GPT-4o mini', 128000, 0.15, 0.60, true,
         ARRAY['chat', 'vision', 'tools', 'json']),
        ('openai', 'gpt-4.1', 'GPT-4.1', 1047576, 2.00, 8.00, true,
         ARRAY['chat', 'vision', 'tools', 'json']),
        ('anthropic', 'claude-sonnet-4-20250514', 'Claude Sonnet 4', 200000, 3.00, 15.00, true,
         ARRAY['chat', 'vision', 'tools']),
        ('anthropic', 'claude-3-5-haiku-20241022', 'Claude 3.5 Haiku', 200000, 0.80, 4.00, true,
         ARRAY['chat', 'tools']),
        ('google', 'gemini-2.0-flash', 'Gemini 2.0 Flash', 1048576, 0.10, 0.40, true,
         ARRAY['chat', 'vision', 'tools', 'json']),
        ('google', 'gemini-1.5-pro', 'Gemini 1.5 Pro', 2097152, 1.25, 5.00, true,
         ARRAY['chat', 'vision', 'tools', 'json']),
        ('meta', 'meta.llama3-1-70b-instruct-v1:0', 'Llama 3.1 70B Instruct', 128000, 0.72, 0.72, true,
         ARRAY['chat', 'tools']),
        ('meta', 'meta.llama3-1-8b-instruct-v1:0', 'Llama 3.1 8B Instruct', 128000, 0.22, 0.22, true,
         ARRAY['chat', 'tools'])
) AS model (provider, name, display_name, context_window, input_price, output_price, supports_tools,
            capabilities)
JOIN llm_providers AS provider ON provider.name = model.provider
ON CONFLICT (provider_id, name) DO UPDATE SET
    display_name          = EXCLUDED.display_name,
    context_window        = EXCLUDED.context_window,
    input_price_per_mtok  = EXCLUDED.input_price_per_mtok,
    output_price_per_mtok = EXCLUDED.output_price_per_mtok,
    supports_tools        = EXCLUDED.supports_tools,
    capabilities          = EXCLUDED.capabilities
WHERE (llm_models.display_name, llm_models.context_window, llm_models.input_price_per_mtok,
       llm_models.output_price_per_mtok, llm_models.supports_tools, llm_models.capabilities)
      IS DISTINCT FROM
      (EXCLUDED.display_name, EXCLUDED.context_window, EXCLUDED.input_price_per_mtok,
       EXCLUDED.output_price_per_mtok, EXCLUDED.supports_tools, EXCLUDED.capabilities);
