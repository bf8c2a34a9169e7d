"""POST /api/v1/llm/openai/v1/chat/completions: OpenAI's Chat Completions, through the gateway.

The caller's JWT is the API key (OpenAI's clients send it as a bearer token); errors take
OpenAI's error object. ``stream: true`` is answered in one text/event-stream body.
"""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types

from auralink.http import current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.llm.openai_compatible import service, stream
from auralink.llm.openai_compatible.errors import openai_error_body
from auralink.llm.openai_compatible.wire import OpenAIChatCompletion, OpenAIChatCompletionRequest

# A crew in its own image calls models with its run-scoped token.
app = make_resolver(run_tokens=True, error_format=openai_error_body)


@app.post(
    "/api/v1/llm/openai/v1/chat/completions",
    summary="Chat Completions in OpenAI's wire format",
    tags=["llm"],
    responses={
        200: {
            "description": "The completion; with stream: true, its chunks as server-sent events",
            "content": {
                "application/json": {"model": OpenAIChatCompletion},
                stream.MEDIA_TYPE: {"schema": {"type": "string"}},
            },
        }
    },
)
def create_chat_completion(request: OpenAIChatCompletionRequest) -> Response[OpenAIChatCompletion | str]:
    completion = service.create_completion(current_identity(app), request, remaining_ms=remaining_ms(app))
    if request.stream:
        body = stream.events(completion, include_usage=request.include_usage)
        return Response(status_code=HTTPStatus.OK, content_type=stream.MEDIA_TYPE, body=body)
    return Response(status_code=HTTPStatus.OK, content_type=content_types.APPLICATION_JSON, body=completion)


lambda_handler = lambda_handler_for(app)
