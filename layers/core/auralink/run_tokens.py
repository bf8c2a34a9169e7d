"""Run-scoped tokens: how a framework that runs outside the main environment (a CrewAI crew in its
own image) reaches the product's gateways as the run's user.

A run token is HS256 with the service's own secret, a fixed issuer and audience, the run's user
and run id, and a lifetime no longer than the step that minted it. It is not the user's JWT: the
surfaces that a run's framework calls accept it (`verify`, with the run id kept on the identity so
that their calls are recorded against the run), and every other route and server refuses it by
name (`auth.verify_token` answers 401 ``run_token_refused``). The JWT library is imported when a
token is minted or verified (see `auralink.auth`).
"""

from __future__ import annotations

import time
from uuid import UUID

from auralink import auth, secrets
from auralink.errors import ConfigurationError, Unauthorized
from auralink.settings import get_settings

AUDIENCE = "auralink-run-gateways"
MAX_TTL_S = 900
_ALGORITHM = "HS256"


def _secret() -> str:
    secret_id = get_settings().service_token_secret_id
    if not secret_id:
        raise ConfigurationError("SERVICE_TOKEN_SECRET_ID is not set", code="service_token_unconfigured")
    return secrets.get_secret_string(secret_id)


def mint(user_id: str, run_id: UUID | str, *, ttl_s: int) -> str:
    """A token acting as ``user_id`` for run ``run_id`` for ``ttl_s`` seconds (at most 15 minutes,
    a step's longest life)."""
    import jwt  # noqa: PLC0415

    now = int(time.time())
    claims = {
        "iss": auth.RUN_TOKEN_ISSUER,
        "aud": AUDIENCE,
        "sub": user_id,
        "run_id": str(UUID(str(run_id))),
        "iat": now,
        "exp": now + max(1, min(ttl_s, MAX_TTL_S)),
    }
    return jwt.encode(claims, _secret(), algorithm=_ALGORITHM)


def verify(token: str) -> auth.Identity:
    """The run's user, with the run id; 401 for a token that is not a valid, current run token."""
    import jwt  # noqa: PLC0415

    try:
        claims = jwt.decode(
            token,
            _secret(),
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            issuer=auth.RUN_TOKEN_ISSUER,
            options={"require": ["exp", "iss", "aud", "sub", "run_id"]},
        )
        run_id = str(UUID(str(claims["run_id"])))
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token has expired", code="token_expired") from None
    except (jwt.PyJWTError, ValueError):
        raise Unauthorized("token signature is invalid", code="token_invalid_signature") from None
    return auth.Identity(sub=str(claims["sub"]), run_id=run_id)


def identity_from_authorization_header(header: str | None) -> auth.Identity:
    """On a surface that a run's framework calls: a run token's identity, or a user's JWT's."""
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() == "bearer" and auth.is_run_token(token.strip()):
            return verify(token.strip())
    return auth.identity_from_authorization_header(header)
