"""Calls on a stored connection: its upstream at call time, with a fresh access token where the
connection signs in with OAuth, and one more try with a refreshed token after the server's 401."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.mcp import gateway
from auralink.mcp.client import McpTarget
from auralink.mcp.errors import AUTH_FAILED, McpUpstreamError
from auralink.mcp.gateway import Outcome
from auralink.mcp.oplog import OperationRecord
from auralink.mcp.targets import label_of_row, upstream_for_row
from auralink.snapstart import before_snapshot

# The most a token refresh may take of a call's time.
_REFRESH_DEADLINE_S = 10.0


def execute[T](
    row: dict[str, Any],
    record: Callable[[str], OperationRecord],
    action: Callable[[McpTarget, float], T],
    *,
    api_base_url: str | None,
    remaining_ms: int,
    response_size: Callable[[T], int] = lambda _: 0,
    clock: Clock = SYSTEM_CLOCK,
) -> Outcome[T]:
    """`gateway.execute` on the connection ``row``; ``record`` makes the log record for the name
    under which the server is logged."""
    started = clock.monotonic()

    def left_ms() -> int:
        return remaining_ms - round((clock.monotonic() - started) * 1000)

    def refresh_deadline_s() -> float:
        return min(_REFRESH_DEADLINE_S, left_ms() / 1000 - gateway.SAFETY_MARGIN_S)

    def attempt(row: dict[str, Any]) -> Outcome[T]:
        upstream = upstream_for_row(row, api_base_url=api_base_url)
        return gateway.execute(
            upstream,
            record(upstream.server_name),
            action,
            remaining_ms=left_ms(),
            response_size=response_size,
            clock=clock,
        )

    label = label_of_row(row)
    if row.get("oauth") is None:
        return attempt(row)
    tokens = _tokens()
    row = tokens.ready(row, server_name=label, deadline_s=refresh_deadline_s(), clock=clock)
    try:
        return attempt(row)
    except McpUpstreamError as exc:
        refused = exc.code == AUTH_FAILED and (exc.details or {}).get("http_status") == 401
        if not refused:
            raise
    # The server refused a token we thought valid (revoked, or its clock runs ahead): refresh once.
    return attempt(
        tokens.ready(row, server_name=label, deadline_s=refresh_deadline_s(), clock=clock, refused=True)
    )


def _tokens() -> ModuleType:
    """OAuth's token handling, for the connections behind it alone: the others never load it
    (11-16 ms of a cold start). SnapStart functions load it before their snapshot."""
    from auralink.mcp.oauth import tokens  # noqa: PLC0415

    return tokens


before_snapshot(_tokens)
