"""The end of a sign-in: the authorization server's redirect, and what the user's browser sees.

The answer is a small page saying that the connection is ready (or why it is not), or, where
`MCP_OAUTH_RETURN_URL` is set, a redirect to the client application with the connection's id,
its status and the error's code. The page shows no code, state or token.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlencode
from uuid import UUID

from auralink import edge
from auralink.auth import Identity
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.errors import DomainError
from auralink.mcp import tools
from auralink.mcp.oauth import flow
from auralink.observability import logger
from auralink.settings import get_settings


@dataclass(frozen=True)
class Outcome:
    status: HTTPStatus
    connection_id: UUID | None
    error_code: str | None
    message: str
    tool_count: int | None = None


def finish(
    callback: flow.Callback, *, api_base_url: str | None, remaining_ms: int, clock: Clock = SYSTEM_CLOCK
) -> Outcome:
    started = clock.monotonic()
    try:
        signed_in = flow.complete(callback, api_base_url=api_base_url, remaining_ms=remaining_ms, clock=clock)
    except DomainError as exc:
        logger.info("MCP sign-in refused", extra={"error_code": exc.code})
        return Outcome(edge.status_for(type(exc)), None, exc.code, exc.message)
    left_ms = remaining_ms - round((clock.monotonic() - started) * 1000)
    try:
        listed = tools.list_tools(
            Identity(sub=signed_in.user_id),
            signed_in.connection_id,
            refresh=True,
            api_base_url=api_base_url,
            remaining_ms=left_ms,
            clock=clock,
        )
    except DomainError as exc:
        # Signed in: the tools are fetched again at the next call that needs them.
        return Outcome(
            edge.status_for(type(exc)),
            signed_in.connection_id,
            exc.code,
            f"Signed in, but the server's tools could not be listed: {exc.message}",
        )
    return Outcome(
        HTTPStatus.OK,
        signed_in.connection_id,
        None,
        "The connection is ready: you can close this page.",
        tool_count=len(listed.tools),
    )


def return_location(outcome: Outcome) -> str | None:
    """Where to send the browser instead of the page, if the deployment names a client application."""
    base = get_settings().mcp_oauth_return_url
    if base is None:
        return None
    query = {"status": "connected" if outcome.error_code is None else "error"}
    if outcome.connection_id is not None:
        query["connection_id"] = str(outcome.connection_id)
    if outcome.error_code is not None:
        query["error"] = outcome.error_code
    return base + ("&" if "?" in base else "?") + urlencode(query)


def page(outcome: Outcome) -> str:
    title = "Connected" if outcome.error_code is None else "Not connected"
    lines = [f"<p>{html.escape(outcome.message)}</p>"]
    if outcome.connection_id is not None:
        lines.append(f"<p>Connection: <code>{outcome.connection_id}</code></p>")
    if outcome.error_code is not None:
        lines.append(f"<p>Error code: <code>{html.escape(outcome.error_code)}</code></p>")
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>AuraLink - {title}</title></head><body><h1>{title}</h1>{''.join(lines)}</body></html>"
    )
