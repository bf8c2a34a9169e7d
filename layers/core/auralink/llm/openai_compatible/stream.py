"""A whole completion as the server-sent events of a streamed one, in one body.

API Gateway's HTTP APIs cannot stream a response, so ``stream: true`` is answered when the
completion is done, as one ``text/event-stream`` body: the chunks an OpenAI client expects
(``chat.completion.chunk``: the role and text, the tool calls whole, the finish reason, the
usage when ``stream_options.include_usage`` asks for it), then ``data: [DONE]``. Clients that
stream read it as a stream that arrived at once.
"""

from __future__ import annotations

import json
from typing import Any

from auralink.llm.openai_compatible import wire

MEDIA_TYPE = "text/event-stream"
_DONE = "data: [DONE]\n\n"


def events(completion: wire.OpenAIChatCompletion, *, include_usage: bool) -> str:
    """The body of a streamed answer of ``completion``."""
    choice = completion.choices[0]
    message = choice.message
    first: dict[str, Any] = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        first["tool_calls"] = [
            {"index": index, **call.model_dump(mode="json")} for index, call in enumerate(message.tool_calls)
        ]
    deltas = [
        _chunk(
            completion, {"index": 0, "delta": first, "logprobs": None, "finish_reason": None}, include_usage
        ),
        _chunk(
            completion,
            {"index": 0, "delta": {}, "logprobs": None, "finish_reason": choice.finish_reason},
            include_usage,
        ),
    ]
    if include_usage:
        # As OpenAI sends it: a last chunk without choices, carrying the usage of the whole answer.
        usage = {**_header(completion), "choices": [], "usage": completion.usage.model_dump(mode="json")}
        deltas.append(usage)
    return "".join(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n" for chunk in deltas) + _DONE


def _header(completion: wire.OpenAIChatCompletion) -> dict[str, Any]:
    return {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
    }


def _chunk(
    completion: wire.OpenAIChatCompletion, choice: dict[str, Any], include_usage: bool
) -> dict[str, Any]:
    chunk = {**_header(completion), "choices": [choice]}
    if include_usage:
        chunk["usage"] = None
    return chunk
