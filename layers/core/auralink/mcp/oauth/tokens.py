"""Access tokens of connections behind OAuth: refreshed before they expire, and once after a 401.

A refresh that the authorization server refuses (the grant was revoked or has expired), or a
session with no refresh token, signs the connection out: it becomes `authorization_required`
and calls on it answer 409 until the user signs in again. Token requests are operations of
the log like any call (`oauth_token`, `oauth_refresh`), with their outcome and never a token.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from uuid import UUID

from auralink.clock import Clock
from auralink.db import tenant_statements, tenant_transaction
from auralink.errors import DomainError
from auralink.mcp import oplog, repository
from auralink.mcp.oauth import errors, store, wire
from auralink.mcp.oauth.session import OAuthSession, of_row
from auralink.mcp.oplog import OperationRecord


def logged[T](record: OperationRecord, request: Callable[[], T], clock: Clock) -> T:
    """One request to the authorization server, written to the operation log before and after."""
    operation_id = uuid.uuid4()
    pending = oplog.start_statement(record, now=clock.now(), operation_id=operation_id)
    tenant_statements(record.user_id, [pending])
    started = clock.monotonic()

    def finish(**outcome: Any) -> None:
        latency_ms = round((clock.monotonic() - started) * 1000)
        finished = oplog.finish_statement(
            operation_id, now=clock.now(), latency_ms=latency_ms, attempts=1, **outcome
        )
        tenant_statements(record.user_id, [finished])

    try:
        value = request()
    except DomainError as exc:
        finish(status="error", error_code=exc.code, error_message=exc.message)
        raise
    finish(status="success")
    return value


def ready(
    row: dict[str, Any], *, server_name: str, deadline_s: float, clock: Clock, refused: bool = False
) -> dict[str, Any]:
    """The connection's row with an access token fit for a call: refreshed when it expires within
    a minute, or when the server has just refused it (``refused``). Rows without OAuth pass as
    they are."""
    session = of_row(row)
    if session is None:
        return row
    if row["status"] == "authorization_required" or session.access_token is None:
        raise errors.authorization_required(row["name"])
    if not refused and not session.needs_refresh(clock.now()):
        return row
    user_id, connection_id = row["user_id"], UUID(str(row["id"]))
    refresh_token = session.refresh_token
    if refresh_token is None:
        _sign_out(user_id, connection_id, session, errors.AUTHORIZATION_REQUIRED)
        raise errors.authorization_required(row["name"])
    record = OperationRecord(
        user_id=user_id, server_name=server_name, operation="oauth_refresh", connection_id=connection_id
    )
    try:
        token = logged(
            record,
            lambda: wire.refresh(
                session.auth, session.client, refresh_token=refresh_token, deadline_s=deadline_s
            ),
            clock,
        )
    except errors.GrantRefused:
        with tenant_transaction(user_id) as conn:
            current = repository.get(conn, connection_id, for_update=True)
            stored = of_row(current)
            if stored is not None and stored.access_token and stored.refresh_token != refresh_token:
                # Another call refreshed first, and the server rotated the refresh token we used.
                return current
        _sign_out(user_id, connection_id, session, errors.GRANT_REFUSED)
        raise errors.authorization_required(row["name"]) from None
    refreshed = session.with_token(token, clock.now())
    with tenant_transaction(user_id) as conn:
        store.save_session(conn, connection_id, refreshed, user_id=user_id, status="connected")
        return repository.get(conn, connection_id)


def _sign_out(user_id: str, connection_id: UUID, session: OAuthSession, error_code: str) -> None:
    with tenant_transaction(user_id) as conn:
        store.save_session(
            conn,
            connection_id,
            session.signed_out(),
            user_id=user_id,
            status="authorization_required",
            error_code=error_code,
        )
