"""Adapters to the providers' APIs: OpenAI Chat Completions (and compatible), Anthropic Messages,
Google Gemini, Bedrock Converse. Each turns a `ProviderRequest` into one HTTP (or AWS) call."""
