"""POST /api/v1/mcp/deepwiki/ask: ask DeepWiki a question about a public repository."""

from __future__ import annotations

from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.mcp import tools
from auralink.mcp.models import DeepWikiAnswer, DeepWikiAsk

app = make_resolver()


@app.post("/api/v1/mcp/deepwiki/ask", summary="Ask DeepWiki about a repository", tags=["mcp shortcuts"])
def ask(request: DeepWikiAsk) -> DeepWikiAnswer:
    return tools.ask_deepwiki(
        current_identity(app), request, api_base_url=api_base_url(app), remaining_ms=remaining_ms(app)
    )


lambda_handler = lambda_handler_for(app)
