"""Short-lived tokens with which the gateway calls the MCP servers that AuraLink hosts itself.

The gateway never forwards a caller's own token upstream. For the hosted servers (Memory,
Sequential Thinking) it mints a token of its own for the user it acts for: HS256 with a secret
that only the service knows, a fixed issuer and audience, and a lifetime of a couple of minutes.
The hosted servers accept either such a token or a user's JWT (so that any MCP client can use
them directly); the two are told apart by their issuer, and each is checked with its own key only.
"""

from __future__ import annotations

import time

from auralink import auth, secrets
from auralink.errors import ConfigurationError, Unauthorized
from auralink.settings import get_settings

ISSUER = "auralink-gateway"
AUDIENCE = "auralink-hosted-mcp"
TTL_S = 120
_ALGORITHM = "HS256"


def _secret() -> str:
    secret_id = get_settings().service_token_secret_id
    if not secret_id:
        raise ConfigurationError("SERVICE_TOKEN_SECRET_ID is not set", code="service_token_unconfigured")
    return secrets.get_secret_string(secret_id)


def mint(user_id: str, *, ttl_s: int = TTL_S) -> str:
    import jwt  # noqa: PLC0415  # loaded with the first token (see auralink.auth)

    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": user_id, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, _secret(), algorithm=_ALGORITHM)


def _is_service_token(token: str) -> bool:
    import jwt  # noqa: PLC0415  # loaded with the first token (see auralink.auth)

    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return unverified.get("iss") == ISSUER


def _verify_service_token(token: str) -> auth.Identity:
    import jwt  # noqa: PLC0415  # loaded with the first token (see auralink.auth)

    try:
        claims = jwt.decode(
            token,
            _secret(),
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token has expired", code="token_expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("token signature is invalid", code="token_invalid_signature") from None
    return auth.Identity(sub=str(claims["sub"]), role="user")


def _bearer(header: str | None) -> str:
    if header is None or not header.strip():
        raise Unauthorized("authorization token is missing", code="token_missing")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("authorization header must use the Bearer scheme", code="token_malformed")
    return token.strip()


def identity_from_authorization_header(
    header: str | None, audience: auth.Audience | None = None
) -> auth.Identity:
    """The user a hosted MCP server acts for: from a gateway token or from the user's own JWT,
    which must be meant for ``audience`` (by default the API's)."""
    token = _bearer(header)
    if _is_service_token(token):
        return _verify_service_token(token)
    return auth.verify_token(token, audience)


def identity_from_user_authorization_header(
    header: str | None, audience: auth.Audience | None = None
) -> auth.Identity:
    """A user's own JWT meant for ``audience`` (by default the API's), and nothing else: a gateway
    token is refused without further checks.

    For the endpoints that call other servers with gateway tokens: a server that accepted them
    could be made to call itself.
    """
    token = _bearer(header)
    if _is_service_token(token):
        raise Unauthorized("gateway service tokens are not accepted here", code="service_token_refused")
    return auth.verify_token(token, audience)
