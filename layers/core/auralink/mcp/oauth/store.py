"""SQL of OAuth sign-ins: authorization states, dynamically registered clients, sessions.

States and sessions are user rows (tenant transactions); registered clients hold no user data
and are shared by the deployment (system transactions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from auralink.db import Connection
from auralink.mcp.oauth.session import OAuthSession, seal


def add_state(
    conn: Connection,
    *,
    state_hash: bytes,
    user_id: str,
    connection_id: UUID,
    request: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    # One sign-in in flight per connection: an address handed out before stops working.
    conn.execute(
        "DELETE FROM mcp_oauth_states WHERE connection_id = %s AND used_at IS NULL", (connection_id,)
    )
    conn.execute(
        "INSERT INTO mcp_oauth_states"
        " (state_hash, user_id, connection_id, request, created_at, expires_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (state_hash, user_id, connection_id, request, now, expires_at),
    )


def state_owner(conn: Connection, state_hash: bytes) -> str | None:
    """The user of a state, from a system transaction (the callback has no caller yet)."""
    row = conn.execute("SELECT mcp_oauth_state_owner(%s) AS user_id", (state_hash,)).fetchone()
    return None if row is None else row["user_id"]


def take_state(conn: Connection, state_hash: bytes) -> dict[str, Any] | None:
    return conn.execute(
        "SELECT state_hash, user_id, connection_id, request, expires_at, used_at"
        " FROM mcp_oauth_states WHERE state_hash = %s FOR UPDATE",
        (state_hash,),
    ).fetchone()


def mark_used(conn: Connection, state_hash: bytes, now: datetime) -> None:
    conn.execute("UPDATE mcp_oauth_states SET used_at = %s WHERE state_hash = %s", (now, state_hash))


def delete_expired_states(conn: Connection, *, older_than_s: int) -> int:
    row = conn.execute(
        "SELECT delete_expired_mcp_oauth_states(make_interval(secs => %s)) AS deleted", (older_than_s,)
    ).fetchone()
    return 0 if row is None else int(row["deleted"])


def save_session(
    conn: Connection,
    connection_id: UUID,
    session: OAuthSession,
    *,
    user_id: str,
    status: str,
    error_code: str | None = None,
) -> None:
    """The connection's session, sealed for its user and itself, with its status."""
    conn.execute(
        "UPDATE user_mcp_connections SET oauth = %s, status = %s, last_error_code = %s WHERE id = %s",
        (seal(session, user_id=user_id, connection_id=connection_id), status, error_code, connection_id),
    )


def record_error(conn: Connection, connection_id: UUID, error_code: str) -> None:
    conn.execute(
        "UPDATE user_mcp_connections SET last_error_code = %s WHERE id = %s", (error_code, connection_id)
    )


def registered_client(
    conn: Connection, issuer: str, redirect_uri: str, now: datetime, *, registered_since: datetime
) -> dict[str, Any] | None:
    return conn.execute(
        "SELECT client_id, client_secret, auth_method FROM mcp_oauth_clients"
        " WHERE issuer = %s AND redirect_uri = %s AND registered_at > %s"
        " AND (secret_expires_at IS NULL OR secret_expires_at > %s)",
        (issuer, redirect_uri, registered_since, now),
    ).fetchone()


def keep_client(
    conn: Connection,
    *,
    issuer: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str | None,
    auth_method: str,
    secret_expires_at: datetime | None,
) -> None:
    conn.execute(
        """
        INSERT INTO mcp_oauth_clients
            (issuer, redirect_uri, client_id, client_secret, auth_method, secret_expires_at)
        VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (issuer, redirect_uri) DO UPDATE
           SET client_id = EXCLUDED.client_id, client_secret = EXCLUDED.client_secret,
               auth_method = EXCLUDED.auth_method, secret_expires_at = EXCLUDED.secret_expires_at,
               registered_at = now()
        """,
        (issuer, redirect_uri, client_id, client_secret, auth_method, secret_expires_at),
    )
