"""Requests and answers of the MCP gateway's HTTP API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from auralink.model import DeferredModel

ServerType = Literal["deepwiki", "memory", "sequential-thinking", "supabase", "custom"]

CONNECTION_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
# What an HTTP header can carry as it is: visible ASCII and spaces (no control character, nothing
# that would need an encoding the server may not share).
_HEADER_VALUE = re.compile(r"[\x20-\x7e]{0,8192}")
# Headers a connection may not set: they belong to HTTP itself or to the MCP transport.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "accept",
        "connection",
        "transfer-encoding",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "proxy-authorization",
        "mcp-session-id",
        "mcp-protocol-version",
        "mcp-method",
        "mcp-name",
        "last-event-id",
    }
)


class _Input(DeferredModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Credentials(_Input):
    """What a user gives to reach a server: its API key (`api_key`, sent the way the server's auth
    settings in mcp-config.yaml say), a bearer token (`token`), and/or named headers."""

    # Sent as `Authorization: Bearer <token>`: visible ASCII.
    token: str | None = Field(default=None, min_length=1, max_length=8192, pattern=r"^[\x21-\x7e]+$")
    headers: dict[str, str] = Field(default_factory=dict, max_length=16)
    # Sent in a header too (as a bearer token or a named header): visible ASCII.
    api_key: str | None = Field(default=None, min_length=1, max_length=8192, pattern=r"^[\x21-\x7e]+$")

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, headers: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"invalid header name {name[:64]!r}")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"header {name} cannot be set by a connection")
            if not _HEADER_VALUE.fullmatch(value):
                raise ValueError(f"the value of header {name} must be visible ASCII, at most 8192 characters")
            if name.lower() == "authorization" and info.data.get("token") is not None:
                raise ValueError("Authorization cannot be set along with token, which is sent in it")
        return headers

    @field_validator("api_key")
    @classmethod
    def _one_key(cls, api_key: str | None, info: ValidationInfo) -> str | None:
        # Fields are validated in their order: token is known here.
        if api_key is not None and info.data.get("token") is not None:
            raise ValueError("give api_key or token, not both: both are the key to the server")
        return api_key

    @property
    def is_empty(self) -> bool:
        return self.token is None and self.api_key is None and not self.headers


class ConnectRequest(_Input):
    server_type: ServerType
    credentials: Credentials = Field(default_factory=Credentials)
    endpoint: str | None = Field(default=None, max_length=2048)
    name: str | None = Field(default=None, pattern=CONNECTION_NAME)


class Connection(DeferredModel):
    connection_id: UUID
    name: str
    status: Literal["pending", "connected", "error", "disabled", "authorization_required"]
    server_type: ServerType
    # The server's display name ("DeepWiki"); a custom server's host name.
    server_name: str
    endpoint: str
    protocol_version: str | None
    # The names of the server's tools (its cached tool list).
    capabilities: list[str]
    tool_count: int
    # What the server announced in its discovery or handshake (MCP's capabilities object).
    server_capabilities: dict[str, Any]
    has_credentials: bool
    last_tested_at: datetime | None
    last_latency_ms: int | None
    last_error_code: str | None
    created_at: datetime


class ConnectionAuthorization(DeferredModel):
    """A connection to a server behind OAuth that waits for its user to sign in: open
    `authorization_url` in a browser before `expires_at`; the server's redirect ends the sign-in."""

    connection_id: UUID
    name: str
    status: Literal["authorization_required"] = "authorization_required"
    authorization_url: str
    expires_at: datetime


class ConnectionList(DeferredModel):
    connections: list[Connection]


class ConnectionTest(DeferredModel):
    connection_id: UUID
    status: Literal["ok", "error"]
    latency_ms: int
    protocol_version: str | None = None
    error_code: str | None = None
    message: str | None = None


class Tool(DeferredModel):
    name: str
    description: str | None
    input_schema: dict[str, Any]


class ToolList(DeferredModel):
    tools: list[Tool]
    fetched_at: datetime | None


class ToolCallRequest(_Input):
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolCallResult(DeferredModel):
    content: list[dict[str, Any]]
    # Any JSON value: the 2026-07-28 revision no longer requires an object.
    structured_content: Any
    is_error: bool


class ToolCallResponse(DeferredModel):
    operation_id: UUID
    latency_ms: int
    result: ToolCallResult


class RegistryServer(DeferredModel):
    name: str
    type: Literal["remote", "self-hosted"]
    display_name: str
    description: str
    endpoint: str | None
    auth_kind: str
    enabled: bool
    protocol: str
    capabilities: list[str]
    tools: list[str]


class RegistryServerList(DeferredModel):
    servers: list[RegistryServer]


class Operation(DeferredModel):
    operation_id: UUID
    connection_id: UUID | None
    server_name: str
    tool: str | None
    operation: str
    status: Literal["pending", "success", "error", "rejected"]
    error_code: str | None
    latency_ms: int | None
    attempts: int | None
    request_bytes: int | None
    response_bytes: int | None
    created_at: datetime


class OperationPage(DeferredModel):
    operations: list[Operation]
    next_cursor: str | None


class ToolUsage(DeferredModel):
    server_name: str
    tool: str | None
    calls: int
    errors: int
    rejected: int
    error_rate: float
    p50_latency_ms: float | None
    p95_latency_ms: float | None


class UsageStats(DeferredModel):
    window_hours: int
    since: datetime
    usage: list[ToolUsage]


# Shortcuts: thin requests over the generic tool call.
class DeepWikiRead(_Input):
    connection_id: UUID
    repo_name: str = Field(
        min_length=3, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$"
    )


class DeepWikiAsk(DeepWikiRead):
    question: str = Field(min_length=1, max_length=4000)


class DeepWikiAnswer(ToolCallResponse):
    """The question and DeepWiki's answer (the text of its reply), with the tool call's result."""

    repo_name: str
    question: str
    answer: str


class HostedToolRequest(_Input):
    """A call to a tool of a hosted server; the connection is found when it is not named."""

    connection_id: UUID | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)


class SupabaseQuery(_Input):
    connection_id: UUID
    query: str = Field(min_length=1, max_length=100_000)
    project_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9]+$")
