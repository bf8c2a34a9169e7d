"""POST /api/v1/llm/chat: a chat with a model of the registry on the caller's key, priced and measured."""

from __future__ import annotations

from auralink.http import current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.llm import chat
from auralink.llm.chat_models import ChatRequest, ChatResponse

app = make_resolver()


@app.post("/api/v1/llm/chat", summary="Chat with a model", tags=["llm"])
def chat_with_model(request: ChatRequest) -> ChatResponse:
    return chat.chat(current_identity(app), request, remaining_ms=remaining_ms(app))


lambda_handler = lambda_handler_for(app)
