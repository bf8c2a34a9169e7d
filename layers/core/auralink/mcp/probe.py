"""The scheduled probe: is each enabled server of the registry answering?

Each server gets a fresh discovery or handshake plus `tools/list`, directly (not through a
user's connection, so without a user's credentials: servers that need a key are probed only
when the deployment has a service-wide one). Results go to `mcp_server_health`, which `/health`
shows. The probe also closes operation-log rows that were left pending by a function that died.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from auralink import config
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.db import system_transaction
from auralink.errors import ConfigurationError, DomainError
from auralink.mcp import client, limits, oplog, repository
from auralink.mcp.models import Credentials
from auralink.mcp.oauth import store as oauth_store
from auralink.mcp.targets import upstream_for
from auralink.model import DeferredModel
from auralink.observability import logger

# The identity the probe acts as towards the hosted servers (it reads no user data).
PROBE_SUBJECT = "system:mcp-probe"
# Longer than any call may last (the API's 30 s limit, a run step's 15 min): older pending rows are dead.
ABANDONED_AFTER_S = 16 * 60


class ServerHealth(DeferredModel):
    server_name: str
    status: str
    latency_ms: int | None
    error_code: str | None
    protocol_version: str | None
    tool_count: int | None
    checked_at: datetime


def _probe_one(name: str, *, api_base_url: str | None, remaining_s: float, clock: Clock) -> ServerHealth:
    started = time.monotonic()
    try:
        upstream = upstream_for(
            name, user_id=PROBE_SUBJECT, credentials=Credentials(), endpoint=None, api_base_url=api_base_url
        )
        deadline_s = min(upstream.limits.timeout_seconds, remaining_s)
        info, tools = client.list_tools(upstream.target, deadline_s=deadline_s)
    except DomainError as exc:
        return ServerHealth(
            server_name=name,
            status="error",
            latency_ms=round((time.monotonic() - started) * 1000),
            error_code=exc.code,
            protocol_version=None,
            tool_count=None,
            checked_at=clock.now(),
        )
    return ServerHealth(
        server_name=name,
        status="ok",
        latency_ms=round((time.monotonic() - started) * 1000),
        error_code=None,
        protocol_version=info.protocol_version,
        tool_count=len(tools),
        checked_at=clock.now(),
    )


def _probeable(name: str, row: dict[str, Any]) -> bool:
    server = config.get_mcp_config().servers.get(name)
    if server is None or not server.enabled or not row["enabled"]:
        return False
    if server.auth.takes_key and server.auth.required and not server.hosted:
        try:
            return config.api_key(name) is not None
        except ConfigurationError:
            return False
    return True


OAUTH_STATES_KEPT_S = 86_400


def run(*, api_base_url: str | None, remaining_ms: int, clock: Clock = SYSTEM_CLOCK) -> list[ServerHealth]:
    with system_transaction() as conn:
        rows = repository.registry_rows(conn)
        closed = oplog.close_abandoned(conn, older_than_s=ABANDONED_AFTER_S)
        limits.purge_expired_windows(conn, now=clock.now())
        # Kept a day past their expiry, so that a late replay is still told apart from a forgery.
        oauth_store.delete_expired_states(conn, older_than_s=OAUTH_STATES_KEPT_S)
    if closed:
        logger.warning("closed abandoned MCP operations", extra={"count": closed})
    targets = [row["name"] for row in rows if _probeable(row["name"], row)]
    budget_s = max(remaining_ms / 1000 - 2, 1) / max(len(targets), 1)
    results = [
        _probe_one(name, api_base_url=api_base_url, remaining_s=budget_s, clock=clock) for name in targets
    ]
    with system_transaction() as conn:
        for health in results:
            conn.execute(
                """
                INSERT INTO mcp_server_health
                    (server_name, status, latency_ms, error_code, protocol_version, tool_count, checked_at)
                VALUES (%(server_name)s, %(status)s, %(latency_ms)s, %(error_code)s, %(protocol_version)s,
                        %(tool_count)s, %(checked_at)s)
                ON CONFLICT (server_name) DO UPDATE SET
                    status = EXCLUDED.status, latency_ms = EXCLUDED.latency_ms,
                    error_code = EXCLUDED.error_code, protocol_version = EXCLUDED.protocol_version,
                    tool_count = EXCLUDED.tool_count, checked_at = EXCLUDED.checked_at
                """,
                health.model_dump(),
            )
    logger.info("mcp servers probed", extra={"servers": {h.server_name: h.status for h in results}})
    return results
