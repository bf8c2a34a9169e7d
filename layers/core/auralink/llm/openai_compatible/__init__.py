"""The LLM gateway in OpenAI's Chat Completions wire format, so that any OpenAI SDK client can call
it: `POST .../openai/v1/chat/completions` and `GET .../openai/v1/models`.

`wire` is the format, `translate` turns it into the gateway's types and back, `service` makes the
call through the same path as `POST /api/v1/llm/chat` (quotas, keys, retries, metrics), `stream`
writes a whole answer as server-sent events, `errors` writes errors as OpenAI's error object.
"""
