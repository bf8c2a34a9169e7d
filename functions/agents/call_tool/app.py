"""POST /api/v1/agents/tools/call: call an agent tool (built-in or MCP) as the caller, or as a run."""

from __future__ import annotations

from auralink.agents.tools.service import AgentToolCallRequest, AgentToolCallResponse, call_tool
from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver, remaining_ms

# A crew in its own image calls tools with its run-scoped token.
app = make_resolver(run_tokens=True)


@app.post("/api/v1/agents/tools/call", summary="Call an agent tool", tags=["agents"])
def agents_call_tool(request: AgentToolCallRequest) -> AgentToolCallResponse:
    return call_tool(
        current_identity(app), request, api_base_url=api_base_url(app), remaining_ms=remaining_ms(app)
    )


lambda_handler = lambda_handler_for(app)
