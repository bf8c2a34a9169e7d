"""Signing a user in to an MCP server: the authorization address, and the callback that ends it.

The authorization code flow with PKCE (S256) and the resource indicator (RFC 8707), across
invocations: connecting (or `POST /connections/{id}/authorize`) stores a state and answers the
address to open; the authorization server's redirect to the callback, which carries no bearer
token, is bound by that state alone: unguessable (256 bits), kept only as its SHA-256, single
use, bound to one user and one connection, valid for `STATE_TTL`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from mcp.client.auth.oauth2 import PKCEParameters
from mcp.client.auth.utils import is_valid_client_metadata_url, issuers_match

from auralink import config, crypto
from auralink.clock import Clock
from auralink.db import Connection as DbConnection
from auralink.db import system_transaction, tenant_transaction
from auralink.errors import BadRequest, Conflict, DecryptionError, DomainError
from auralink.mcp import repository
from auralink.mcp.connections import CUSTOM
from auralink.mcp.oauth import errors, store, tokens, wire
from auralink.mcp.oauth.session import OAuthSession, unseal
from auralink.mcp.oauth.urls import CALLBACK_PATH, CLIENT_METADATA_PATH, CLIENT_NAME, redirect_uri
from auralink.mcp.oplog import OperationRecord
from auralink.mcp.targets import label_of_row

STATE_TTL = timedelta(minutes=10)
REGISTRATION_KEPT = timedelta(days=1)
_REGISTRATION_DEADLINE_S = 10.0
_REQUEST_PURPOSE = "mcp-oauth-authorization-request"
_CLIENT_SECRET_PURPOSE = "mcp-oauth-client-secret"  # noqa: S105  # a purpose label


@dataclass(frozen=True)
class Authorization:
    """Where the user signs in, and until when that address works."""

    url: str
    expires_at: datetime


@dataclass(frozen=True)
class Callback:
    """The query of the authorization server's redirect (RFC 6749 section 4.1.2)."""

    state: str | None
    code: str | None
    error: str | None
    iss: str | None


@dataclass(frozen=True)
class SignedIn:
    user_id: str
    connection_id: UUID
    session: OAuthSession


def client_for(
    server_type: str,
    auth: wire.AuthServer,
    *,
    redirect: str,
    deadline_s: float,
    now: datetime,
    register_again: bool = False,
) -> wire.Client:
    """The operator's client for a registry server; else the product's Client ID Metadata
    Document where the authorization server takes one (on an https API); else a client registered
    dynamically, kept for the whole deployment per authorization server and redirect URI for
    `REGISTRATION_KEPT`.

    ``register_again`` skips the kept one: an authorization server may forget its clients
    (restarted, cleaned up), and a user signing in again must not be sent to it with a dead one.
    """
    configured = None if server_type == CUSTOM else config.server(server_type).auth.oauth
    if configured is not None:
        secret = config.oauth_client_secret(server_type)
        plain = None if secret is None else secret.get_secret_value()
        return wire.Client(
            configured.client_id, plain, wire.auth_method_for(auth, has_secret=plain is not None)
        )
    document_url = redirect.removesuffix(CALLBACK_PATH) + CLIENT_METADATA_PATH
    if auth.client_id_metadata and is_valid_client_metadata_url(document_url):
        # Preferred where offered (the MCP specification): nothing to register, keep or forget.
        return wire.Client(document_url, None, "none")
    record_id = f"{auth.issuer} {redirect}"
    if not register_again:
        kept = _kept_client(auth.issuer, redirect, record_id, now)
        if kept is not None:
            return kept
    client, secret_expires_at = wire.register(
        auth, redirect_uri=redirect, client_name=CLIENT_NAME, deadline_s=deadline_s
    )
    sealed = None
    if client.client_secret is not None:
        sealed = crypto.encrypt_credential(
            client.client_secret, owner_id="deployment", record_id=record_id, purpose=_CLIENT_SECRET_PURPOSE
        )
    with system_transaction() as conn:
        store.keep_client(
            conn,
            issuer=auth.issuer,
            redirect_uri=redirect,
            client_id=client.client_id,
            client_secret=sealed,
            auth_method=client.auth_method,
            secret_expires_at=secret_expires_at,
        )
    return client


def _kept_client(issuer: str, redirect: str, record_id: str, now: datetime) -> wire.Client | None:
    """A registration kept and still usable: recent, its secret unexpired and readable."""
    with system_transaction() as conn:
        row = store.registered_client(conn, issuer, redirect, now, registered_since=now - REGISTRATION_KEPT)
    if row is None:
        return None
    secret_text = None
    if row["client_secret"] is not None:
        try:
            secret_text = crypto.decrypt_credential_text(
                row["client_secret"],
                owner_id="deployment",
                record_id=record_id,
                purpose=_CLIENT_SECRET_PURPOSE,
            )
        except DecryptionError:
            # Sealed with a key the deployment no longer holds: register again rather than fail.
            return None
    return wire.Client(row["client_id"], secret_text, row["auth_method"])


def configured_scope(server_type: str) -> str | None:
    if server_type == CUSTOM:
        return None
    configured = config.server(server_type).auth.oauth
    return " ".join(configured.scopes) if configured is not None and configured.scopes else None


def authorize(
    conn: DbConnection,
    *,
    user_id: str,
    connection_id: UUID,
    session: OAuthSession,
    redirect: str,
    now: datetime,
) -> Authorization:
    """A new state for the connection (any earlier one stops working) and the address to open."""
    state = secrets.token_urlsafe(32)
    pkce = PKCEParameters.generate()
    expires_at = now + STATE_TTL
    request = json.dumps({"code_verifier": pkce.code_verifier, "client": session.client.__dict__})
    store.add_state(
        conn,
        state_hash=_hash(state),
        user_id=user_id,
        connection_id=connection_id,
        request=crypto.encrypt_credential(
            request, owner_id=user_id, record_id=str(connection_id), purpose=_REQUEST_PURPOSE
        ),
        now=now,
        expires_at=expires_at,
    )
    params = {
        "response_type": "code",
        "client_id": session.client.client_id,
        "redirect_uri": redirect,
        "state": state,
        "code_challenge": pkce.code_challenge,
        "code_challenge_method": "S256",
        "resource": session.auth.resource,
    }
    if session.auth.scope:
        params["scope"] = session.auth.scope
    endpoint = session.auth.authorization_endpoint
    return Authorization(endpoint + ("&" if "?" in endpoint else "?") + urlencode(params), expires_at)


def reauthorize(
    user_id: str, connection_id: UUID, *, api_base_url: str | None, clock: Clock
) -> tuple[dict[str, Any], Authorization]:
    """A fresh address for a connection behind OAuth (`POST /connections/{id}/authorize`).

    A dynamically registered client is registered again for it: an authorization server may
    have forgotten the earlier one (restarted, cleaned up). The connection keeps its client and
    tokens until the sign-in ends; the new client travels with the state.
    """
    redirect = redirect_uri(api_base_url)
    with tenant_transaction(user_id) as conn:
        row = repository.get(conn, connection_id)
    if row["oauth"] is None:
        raise Conflict(
            "This connection does not sign in with OAuth: it uses the credentials it was made with",
            code=errors.NOT_OAUTH,
        )
    session = unseal(row["oauth"], user_id=user_id, connection_id=connection_id)
    client = client_for(
        row["server_name"] or CUSTOM,
        session.auth,
        redirect=redirect,
        deadline_s=_REGISTRATION_DEADLINE_S,
        now=clock.now(),
        register_again=True,
    )
    with tenant_transaction(user_id) as conn:
        authorization = authorize(
            conn,
            user_id=user_id,
            connection_id=connection_id,
            session=replace(session, client=client),
            redirect=redirect,
            now=clock.now(),
        )
    return row, authorization


def complete(callback: Callback, *, api_base_url: str | None, remaining_ms: int, clock: Clock) -> SignedIn:
    """Exchange the callback's code for tokens and store them on the connection.

    The state is spent before anything else happens, whatever follows: a second use of it is
    refused as a replay. A failure leaves the connection waiting for a sign-in, with the
    failure's code, from which `POST /connections/{id}/authorize` starts again.
    """
    if not callback.state:
        raise BadRequest("The redirect has no state parameter", code=errors.CALLBACK_INVALID)
    state_hash = _hash(callback.state)
    with system_transaction() as conn:
        user_id = store.state_owner(conn, state_hash)
    if user_id is None:
        raise BadRequest(
            "This sign-in link is not known: start again from the connection", code=errors.STATE_INVALID
        )
    now = clock.now()
    row: dict[str, Any] = {}
    with tenant_transaction(user_id) as conn:
        state = store.take_state(conn, state_hash)
        if state is not None and state["used_at"] is None and state["expires_at"] > now:
            store.mark_used(conn, state_hash, now)
            row = repository.get(conn, state["connection_id"], for_update=True)
    if state is None:
        raise BadRequest("This sign-in link is not known", code=errors.STATE_INVALID)
    if state["used_at"] is not None:
        raise BadRequest(
            "This sign-in link was used already: start again from the connection", code=errors.STATE_USED
        )
    if state["expires_at"] <= now:
        raise BadRequest(
            "This sign-in link expired (it lasts 10 minutes): start again from the connection",
            code=errors.STATE_EXPIRED,
        )
    connection_id = UUID(str(state["connection_id"]))
    try:
        session = _exchange(
            callback, state, row, api_base_url=api_base_url, remaining_ms=remaining_ms, clock=clock
        )
    except DomainError as exc:
        with tenant_transaction(user_id) as conn:
            store.record_error(conn, connection_id, exc.code)
        raise
    with tenant_transaction(user_id) as conn:
        store.save_session(conn, connection_id, session, user_id=user_id, status="connected")
    return SignedIn(user_id, connection_id, session)


def _exchange(
    callback: Callback,
    state: dict[str, Any],
    row: dict[str, Any],
    *,
    api_base_url: str | None,
    remaining_ms: int,
    clock: Clock,
) -> OAuthSession:
    user_id, connection_id = row["user_id"], UUID(str(row["id"]))
    if callback.error is not None:
        if callback.error == "access_denied":
            raise BadRequest("You declined the sign-in: the connection is not authorized", code=errors.DENIED)
        raise BadRequest("The authorization server did not authorize the connection", code=errors.DENIED)
    code = callback.code
    if not code:
        raise BadRequest("The redirect has no code parameter", code=errors.CALLBACK_INVALID)
    session = unseal(row["oauth"], user_id=user_id, connection_id=connection_id)
    if callback.iss is not None and not issuers_match(callback.iss, session.auth.issuer):
        # RFC 9207: a response from another authorization server (a mix-up attack).
        raise BadRequest("The redirect names another authorization server", code=errors.CALLBACK_INVALID)
    if callback.iss is None and session.auth.iss_parameter:
        raise BadRequest("The redirect does not name its authorization server", code=errors.CALLBACK_INVALID)
    request = json.loads(
        crypto.decrypt_credential_text(
            state["request"], owner_id=user_id, record_id=str(connection_id), purpose=_REQUEST_PURPOSE
        )
    )
    # The client the authorization request was made with, which the code was issued to.
    session = replace(session, client=wire.Client(**request["client"]))
    auth, client, verifier = session.auth, session.client, request["code_verifier"]
    token = tokens.logged(
        OperationRecord(
            user_id=user_id,
            server_name=label_of_row(row),
            operation="oauth_token",
            connection_id=connection_id,
        ),
        lambda: wire.exchange_code(
            auth,
            client,
            code=code,
            code_verifier=verifier,
            redirect_uri=redirect_uri(api_base_url),
            deadline_s=remaining_ms / 1000 - 1.0,
        ),
        clock,
    )
    return session.with_token(token, clock.now())


def _hash(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()
