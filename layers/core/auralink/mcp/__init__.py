"""The MCP gateway: registry, connections, the protocol client, limits, breaker and operation log.

The `mcp` SDK costs about 0.6 s of cold start: only `client` and `hosted` import it, and only
functions that speak MCP import those.
"""
