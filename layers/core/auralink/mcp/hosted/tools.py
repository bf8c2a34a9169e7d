"""What the hosted servers' tools share: reference schemas, JSON text results, error reporting.

The hosted servers re-implement published reference servers, so their tools are listed with the
reference's own JSON schemas (not the ones pydantic would derive from the Python signatures),
and their results carry the same JSON text the reference returns.

Failures are reported the way MCP means them to be: a caller's mistake (an unknown entity, an
argument too large, text that Postgres cannot store) is a tool result with ``isError`` for the
model to read; a failure of the service itself (the database is down) is a JSON-RPC error,
logged, with a stable code in ``data``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

import psycopg
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from auralink.errors import ConfigurationError, DomainError, ServiceUnavailable
from auralink.observability import logger

JSON_SCHEMA_DRAFT_07 = "http://json-schema.org/draft-07/schema#"

Schema = dict[str, Any]
UNSTORABLE = "An argument holds a value that cannot be stored (text must not hold the NUL character)"
# A tool's answer to a caller's mistake: the error's message rendered as the tool's text.
ErrorText = Callable[[str], str]


class ReferenceTool(Tool):
    """A tool published with fixed input and output schemas (the reference server's)."""

    published_output_schema: Schema | None = Field(default=None, exclude=True)

    @cached_property
    def output_schema(self) -> Schema | None:
        return self.published_output_schema


def reference_tool(
    fn: Callable[..., CallToolResult],
    *,
    name: str,
    title: str,
    description: str,
    input_schema: Schema,
    output_schema: Schema | None,
    annotations: ToolAnnotations,
) -> Tool:
    """``fn``'s signature validates the arguments; the listing shows the schemas given here."""
    tool = ReferenceTool.from_function(
        fn, name=name, title=title, description=description, annotations=annotations, structured_output=False
    )
    return tool.model_copy(update={"parameters": input_schema, "published_output_schema": output_schema})


def hints(*, read_only: bool, destructive: bool, idempotent: bool) -> ToolAnnotations:
    return ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=False,
    )


# JSON schema builders, in the shape the reference servers' zod schemas serialise to.
def string(description: str | None = None) -> Schema:
    return _described({"type": "string"}, description)


def array(items: Schema, description: str | None = None) -> Schema:
    return _described({"type": "array", "items": items}, description)


def record(
    properties: dict[str, Schema], *, closed: bool = False, required: list[str] | None = None
) -> Schema:
    """An object; ``closed`` as zod writes output schemas (no other properties)."""
    schema: Schema = {"type": "object", "properties": properties}
    names = list(properties) if required is None else required
    if names:
        schema["required"] = names
    if closed:
        schema["additionalProperties"] = False
    return schema


def root(schema: Schema) -> Schema:
    return {"$schema": JSON_SCHEMA_DRAFT_07, **schema}


def _described(schema: Schema, description: str | None) -> Schema:
    return schema if description is None else {**schema, "description": description}


def json_text(value: Any) -> str:
    """``JSON.stringify(value, null, 2)``, as the reference servers write their answers."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def text_result(text: str, structured: dict[str, Any] | None = None) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def error_result(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def answer(tool: str, work: Callable[[], CallToolResult], *, error_text: ErrorText = str) -> CallToolResult:
    """Run a tool's work and report its failures as MCP means them (see the module's docstring)."""
    try:
        return work()
    except (ServiceUnavailable, ConfigurationError) as exc:
        logger.error("hosted MCP tool failed", extra={"tool": tool, "error_code": exc.code})
        # A configuration message may name a secret's id: only the database's own message is shown.
        message = exc.message if isinstance(exc, ServiceUnavailable) else "the server is misconfigured"
        raise MCPError(INTERNAL_ERROR, message, data={"code": exc.code}) from None
    except DomainError as exc:
        logger.info("hosted MCP tool refused the call", extra={"tool": tool, "error_code": exc.code})
        return error_result(error_text(exc.message))
    except psycopg.DataError:
        # A value Postgres cannot store, such as text holding U+0000: the caller's to change.
        logger.info(
            "hosted MCP tool refused the call", extra={"tool": tool, "error_code": "unstorable_value"}
        )
        return error_result(error_text(UNSTORABLE))
