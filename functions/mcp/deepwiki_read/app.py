"""POST /api/v1/mcp/deepwiki/read: the wiki of a public repository (DeepWiki's read_wiki_contents)."""

from __future__ import annotations

from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.mcp import tools
from auralink.mcp.models import DeepWikiRead, ToolCallResponse

app = make_resolver()


@app.post("/api/v1/mcp/deepwiki/read", summary="Read a repository's DeepWiki", tags=["mcp shortcuts"])
def read_wiki(request: DeepWikiRead) -> ToolCallResponse:
    return tools.call_server_tool(
        current_identity(app),
        "deepwiki",
        request.connection_id,
        "read_wiki_contents",
        {"repoName": request.repo_name},
        api_base_url=api_base_url(app),
        remaining_ms=remaining_ms(app),
    )


lambda_handler = lambda_handler_for(app)
