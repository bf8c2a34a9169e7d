"""Whether the tools and models an agent definition names exist for its owner.

Workflows, teams and pipelines name tools (built-in, or `mcp:<connection>/<tool>` of the user's
connections; a pipeline's `mcp_tool` step names the connection and the tool apart) and models
(registry ids). One `References` per validation asks the database at most once per connection
and per model, and answers each name with the problem to report, or None.
"""

from __future__ import annotations

from auralink.agents.tools import names
from auralink.auth import Identity
from auralink.errors import ValidationFailed
from auralink.llm import preferences


class References:
    """The user's connections and the registry's models, each asked at most once."""

    def __init__(self, identity: Identity) -> None:
        self._identity = identity
        self._connections: dict[str, set[str] | None] = {}
        self._models: dict[str, str | None] = {}

    def tool_problem(self, name: str) -> str | None:
        try:
            parsed = names.parse(name)
        except ValueError as exc:
            return str(exc)
        if isinstance(parsed, str):
            return None
        return self.connection_problem(parsed.connection) or self.connection_tool_problem(
            parsed.connection, parsed.tool
        )

    def connection_problem(self, connection: str) -> str | None:
        """Why the user has no MCP connection of that name; None when they have one."""
        if self._connection_tools(connection) is None:
            return f"no MCP connection named {connection!r}: connect one with POST /api/v1/mcp/connect"
        return None

    def connection_tool_problem(self, connection: str, tool: str) -> str | None:
        """Why the user's connection has no such tool; None when it has (or when there is no such
        connection, which `connection_problem` reports)."""
        tools = self._connection_tools(connection)
        if tools is not None and tool not in tools:
            return f"the connection {connection!r} has no tool {tool!r}"
        return None

    def _connection_tools(self, connection: str) -> set[str] | None:
        if connection not in self._connections:
            # Imported here: the MCP package loads its protocol SDK, which only a definition that
            # names an MCP tool needs (the other functions then start faster).
            from auralink.mcp.tools import tools_of_named_connection  # noqa: PLC0415

            found = tools_of_named_connection(self._identity, connection)
            self._connections[connection] = None if found is None else {tool["name"] for tool in found[1]}
        return self._connections[connection]

    def model_problem(self, model_id: str) -> str | None:
        if model_id not in self._models:
            try:
                preferences.resolve_model(self._identity.sub, model_id)
                self._models[model_id] = None
            except ValidationFailed as exc:
                self._models[model_id] = exc.message
        return self._models[model_id]
