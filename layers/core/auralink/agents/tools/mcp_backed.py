"""Tools that are MCP tools underneath: `memory_search`, `deepwiki`, and `mcp:<connection>/<tool>`.

Every call goes through the MCP gateway (`auralink.mcp.tools`): the caller's own connection, its
credentials, the rate limits and circuit breaker, and a row in `mcp_operation_logs` whose id the
answer keeps. The gateway's refusals and failures are domain errors with user-safe messages;
`auralink.agents.tools.catalog.call` turns them into error outputs.
"""

from __future__ import annotations

from typing import Any

from auralink.agents.tools.base import BuiltinTool, ToolAnswer, ToolContext
from auralink.agents.tools.names import DEEPWIKI, MEMORY_SEARCH, McpToolName
from auralink.errors import NotFound
from auralink.mcp import tools
from auralink.mcp.models import ToolCallResponse

MEMORY_SERVER = "memory"
DEEPWIKI_SERVER = "deepwiki"
# The MCP server answered, and said the call failed (isError): the text says why.
MCP_TOOL_ERROR = "mcp_tool_error"
_REPO_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$"


def _block_text(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "resource":
        resource = block.get("resource") or {}
        if isinstance(resource.get("text"), str):
            return str(resource["text"])
        return f"[resource {resource.get('uri', '')}]"
    if kind == "resource_link":
        return f"[resource link {block.get('uri', '')}]"
    # Images and audio are data, not words: the model is told they exist.
    return f"[{kind} content, {block.get('mimeType', 'unknown type')}]"


def answer_of(response: ToolCallResponse) -> ToolAnswer:
    """An MCP tool result as an agent reads it: its contents as text, its structured content as data."""
    result = response.result
    return ToolAnswer(
        text="\n".join(_block_text(block) for block in result.content),
        structured=result.structured_content,
        is_error=result.is_error,
        error_code=MCP_TOOL_ERROR if result.is_error else None,
        mcp_operation_id=str(response.operation_id),
    )


def call_connection_tool(context: ToolContext, name: McpToolName, arguments: dict[str, Any]) -> ToolAnswer:
    """`mcp:<connection>/<tool>`: the tool of the caller's connection of that name."""
    found = tools.tools_of_named_connection(context.identity, name.connection)
    if found is None:
        raise NotFound(f"You have no MCP connection named {name.connection!r}", code="connection_not_found")
    connection_id, _ = found
    response = tools.call_tool(
        context.identity,
        connection_id,
        name.tool,
        arguments,
        api_base_url=context.api_base_url,
        remaining_ms=context.remaining_ms(),
    )
    return answer_of(response)


def _server_tool(context: ToolContext, server: str, tool: str, arguments: dict[str, Any]) -> ToolAnswer:
    response = tools.call_server_tool(
        context.identity,
        server,
        None,
        tool,
        arguments,
        api_base_url=context.api_base_url,
        remaining_ms=context.remaining_ms(),
    )
    return answer_of(response)


def _memory_search(context: ToolContext, arguments: dict[str, Any]) -> ToolAnswer:
    return _server_tool(context, MEMORY_SERVER, "search_nodes", {"query": arguments["query"]})


def _deepwiki(context: ToolContext, arguments: dict[str, Any]) -> ToolAnswer:
    repo_name = arguments["repo_name"]
    if arguments["action"] == "ask":
        return _server_tool(
            context,
            DEEPWIKI_SERVER,
            "ask_question",
            {"repoName": repo_name, "question": arguments["question"]},
        )
    return _server_tool(context, DEEPWIKI_SERVER, "read_wiki_contents", {"repoName": repo_name})


MEMORY_SEARCH_TOOL = BuiltinTool(
    name=MEMORY_SEARCH,
    description=(
        "Search the user's long-term memory (a knowledge graph of entities, their observations and "
        "relations) for a word or phrase. Matches entity names, types and observations; returns the "
        "matching entities and the relations between them."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "query": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1000,
                "description": "Text to look for in entity names, types and observations",
            }
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    run=_memory_search,
)

DEEPWIKI_TOOL = BuiltinTool(
    name=DEEPWIKI,
    description=(
        "Read or ask about the documentation DeepWiki generated for a public GitHub repository. "
        'action "read" returns the wiki\'s contents; action "ask" answers a question about the '
        "repository, grounded in its code and wiki."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "action": {
                "type": "string",
                "enum": ["ask", "read"],
                "description": "ask a question, or read the wiki",
            },
            "repo_name": {
                "type": "string",
                "minLength": 3,
                "maxLength": 200,
                "pattern": _REPO_NAME,
                "description": "The repository as owner/name, e.g. modelcontextprotocol/python-sdk",
            },
            "question": {
                "type": "string",
                "minLength": 1,
                "maxLength": 4000,
                "description": 'The question (required when action is "ask")',
            },
        },
        "required": ["action", "repo_name"],
        "additionalProperties": False,
        "if": {"properties": {"action": {"const": "ask"}}},
        "then": {"required": ["question"]},
    },
    run=_deepwiki,
)
