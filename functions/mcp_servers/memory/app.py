"""ANY /mcp/memory: the hosted Memory MCP server (a knowledge graph per user)."""

from __future__ import annotations

from auralink.mcp.hosted.app import lambda_handler_for
from auralink.mcp.hosted.memory import server

lambda_handler = lambda_handler_for(server)
