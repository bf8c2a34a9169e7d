"""The MCP servers AuraLink hosts itself, as Lambda functions: Memory and Sequential Thinking.

`app` turns API Gateway events into MCP exchanges (stateless streamable HTTP, JSON replies) and
authenticates every request; `memory` and `thinking` are the servers, re-implementing the
published reference servers' tools with per-user state in Postgres.
"""
