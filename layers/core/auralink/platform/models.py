"""Response models of the platform endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from auralink.model import DeferredModel
from auralink.prefect_api import PrefectHealth

CheckStatus = Literal["ok", "error"]


class DatabaseCheck(DeferredModel):
    status: CheckStatus
    schema_version: str | None = None
    latency_ms: float | None = None
    error_code: str | None = None


class ConfigurationCheck(DeferredModel):
    status: CheckStatus
    servers: int | None = None
    error: str | None = None


class McpServerHealth(DeferredModel):
    """An MCP server as the scheduled probe last saw it (informative: it does not fail /health)."""

    server_name: str
    status: CheckStatus
    latency_ms: int | None
    error_code: str | None
    checked_at: datetime


class HealthDetails(DeferredModel):
    """What only a caller with a valid token sees: configuration errors and upstream health."""

    environment: str
    database: DatabaseCheck
    configuration: ConfigurationCheck
    mcp_servers: list[McpServerHealth]
    # The Prefect API of pipelines: ok, starting or unavailable (with a code), never its URL.
    prefect: PrefectHealth
    checked_at: datetime


class HealthReport(DeferredModel):
    status: Literal["ok", "unavailable"]
    version: str
    schema_version: str | None  # the latest migration applied; None when the database cannot say
    details: HealthDetails | None = None  # with a valid bearer token only


class Me(DeferredModel):
    sub: str
    email: str | None
    role: str
    first_seen_at: datetime
    last_seen_at: datetime
