"""A connection's OAuth session: its authorization server, its client and its tokens, as stored.

The whole session is one ciphertext (`user_mcp_connections.oauth`) bound to the user and the
connection like the connection's credentials: a row copied to another user or connection does
not decrypt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from mcp.shared.auth import OAuthToken

from auralink import crypto
from auralink.mcp.oauth.wire import AuthServer, Client

PURPOSE = "mcp-connection-oauth"
# A token this close to its expiry is refreshed before a call rather than after its 401.
REFRESH_AHEAD = timedelta(seconds=60)


@dataclass(frozen=True)
class OAuthSession:
    auth: AuthServer
    client: Client
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: datetime | None = None
    scope: str | None = None

    def with_token(self, token: OAuthToken, now: datetime) -> OAuthSession:
        expires_at = None if token.expires_in is None else now + timedelta(seconds=int(token.expires_in))
        return replace(
            self,
            access_token=token.access_token,
            # A server that does not rotate refresh tokens sends none on a refresh: keep the one we have.
            refresh_token=token.refresh_token or self.refresh_token,
            expires_at=expires_at,
            scope=token.scope or self.scope,
        )

    def needs_refresh(self, now: datetime) -> bool:
        return self.access_token is None or (
            self.expires_at is not None and self.expires_at - now < REFRESH_AHEAD
        )

    def signed_out(self) -> OAuthSession:
        return replace(self, access_token=None, refresh_token=None, expires_at=None)


def seal(session: OAuthSession, *, user_id: str, connection_id: UUID) -> str:
    document: dict[str, Any] = {
        "auth": session.auth.to_json(),
        "client": session.client.__dict__,
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "expires_at": None if session.expires_at is None else session.expires_at.isoformat(),
        "scope": session.scope,
    }
    return crypto.encrypt_credential(
        json.dumps(document), owner_id=user_id, record_id=str(connection_id), purpose=PURPOSE
    )


def unseal(token: str, *, user_id: str, connection_id: UUID) -> OAuthSession:
    document = json.loads(
        crypto.decrypt_credential_text(token, owner_id=user_id, record_id=str(connection_id), purpose=PURPOSE)
    )
    expires_at = document["expires_at"]
    return OAuthSession(
        auth=AuthServer.from_json(document["auth"]),
        client=Client(**document["client"]),
        access_token=document["access_token"],
        refresh_token=document["refresh_token"],
        expires_at=None if expires_at is None else datetime.fromisoformat(expires_at),
        scope=document["scope"],
    )


def of_row(row: dict[str, Any]) -> OAuthSession | None:
    """The session of a connection row, None for a connection that is not behind OAuth."""
    if row.get("oauth") is None:
        return None
    return unseal(row["oauth"], user_id=row["user_id"], connection_id=UUID(str(row["id"])))
