"""How agents name a tool: a built-in name, or `mcp:<connection name>/<tool>`; and the names
models are given for them (what providers accept)."""

from __future__ import annotations

import re
from dataclasses import dataclass

CALCULATOR = "calculator"
CODE_ANALYZER = "code_analyzer"
WEB_SEARCH = "web_search"
MEMORY_SEARCH = "memory_search"
DEEPWIKI = "deepwiki"
BUILTIN_TOOLS = frozenset({CALCULATOR, CODE_ANALYZER, WEB_SEARCH, MEMORY_SEARCH, DEEPWIKI})

MCP_PREFIX = "mcp:"
# Connection names follow user_mcp_connections.name; tool names are the server's own.
CONNECTION_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
MCP_TOOL_NAME = r"[^\s/]{1,128}"
_MCP_NAME = re.compile(rf"^mcp:(?P<connection>{CONNECTION_NAME})/(?P<tool>{MCP_TOOL_NAME})$")


@dataclass(frozen=True)
class McpToolName:
    connection: str
    tool: str

    def __str__(self) -> str:
        return f"{MCP_PREFIX}{self.connection}/{self.tool}"


def parse(name: str) -> str | McpToolName:
    """The built-in name, or the connection and tool of an MCP tool; ValueError for anything else."""
    if name in BUILTIN_TOOLS:
        return name
    match = _MCP_NAME.match(name)
    if match is None:
        raise ValueError(
            f"unknown tool {name!r}: expected one of {', '.join(sorted(BUILTIN_TOOLS))}"
            " or mcp:<connection name>/<tool>"
        )
    return McpToolName(connection=match["connection"], tool=match["tool"])


# What model providers accept as a tool's name.
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX_TOOL_NAME = 64


def model_tool_names(names: list[str]) -> dict[str, str]:
    """Names the providers accept (letters, digits, `_`, `-`, at most 64) for our tool names."""
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        safe = _UNSAFE.sub("_", name.replace("mcp:", "mcp__", 1).replace("/", "__"))[:_MAX_TOOL_NAME]
        candidate, n = safe, 2
        while candidate in taken:
            suffix = f"_{n}"
            candidate, n = safe[: _MAX_TOOL_NAME - len(suffix)] + suffix, n + 1
        chosen[name] = candidate
        taken.add(candidate)
    return chosen
