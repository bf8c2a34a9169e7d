"""GET /api/v1/mcp/usage/stats: calls, error rate and latency per server and tool over a window."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from auralink.http import current_identity, lambda_handler_for, make_resolver
from auralink.mcp import usage
from auralink.mcp.models import UsageStats

app = make_resolver()


@app.get("/api/v1/mcp/usage/stats", summary="MCP usage per server and tool", tags=["mcp"])
def usage_stats(window_hours: Annotated[int, Query(ge=1, le=720)] = 24) -> UsageStats:
    return usage.stats(current_identity(app), window_hours=window_hours)


lambda_handler = lambda_handler_for(app)
