"""POST /api/v1/mcp/supabase/query: run SQL on a Supabase project (Supabase's execute_sql)."""

from __future__ import annotations

from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.mcp import tools
from auralink.mcp.models import SupabaseQuery, ToolCallResponse

app = make_resolver()


@app.post("/api/v1/mcp/supabase/query", summary="Query a Supabase project", tags=["mcp shortcuts"])
def query(request: SupabaseQuery) -> ToolCallResponse:
    return tools.call_server_tool(
        current_identity(app),
        "supabase",
        request.connection_id,
        "execute_sql",
        {"project_id": request.project_id, "query": request.query},
        api_base_url=api_base_url(app),
        remaining_ms=remaining_ms(app),
    )


lambda_handler = lambda_handler_for(app)
