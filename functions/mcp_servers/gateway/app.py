"""ANY /mcp/gateway: the caller's own MCP endpoint, federating the tools of all their connections."""

from __future__ import annotations

from auralink.mcp.hosted.app import lambda_handler_for
from auralink.mcp.hosted.federated import server

# A user's JWT only: this server calls the others with gateway tokens, so it never accepts one.
lambda_handler = lambda_handler_for(server, service_tokens=False)
