"""JWT verification and the caller's identity.

Accepted algorithms come from ``AUTH_ALGORITHMS`` only; the token's header merely selects among
them, and a header naming anything else (``none`` included) is refused before any key is looked up.
HS256 tokens are checked with the secret named by ``AUTH_JWT_SECRET_ID`` (development); RS256 and
ES256 tokens with the issuer's keys published at ``AUTH_JWKS_URL`` (Cognito or any OIDC issuer).
The two key sources never mix, so a public key can never be used as an HMAC secret.

Every rejection raises `Unauthorized` with a stable ``code``; messages never quote the token.

The JWT library (with `cryptography`, ~70 ms of cold start) is imported when a token is first read,
not with this module: the open routes (`GET /health` without a token) and the 401 to a request
without one never load it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field

from auralink import secrets as secret_store
from auralink.errors import ConfigurationError, ServiceUnavailable, Unauthorized
from auralink.model import DeferredModel
from auralink.observability import logger
from auralink.settings import Settings, get_settings
from auralink.snapstart import before_snapshot

if TYPE_CHECKING:
    import jwt

__all__ = ["Audience", "Identity", "identity_from_authorization_header", "reset_caches", "verify_token"]

REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub")
LEEWAY_S = 30
DEFAULT_ROLE = "user"
# A fetched key set is trusted this long; an unknown kid refetches at most once per cooldown, so
# that tokens naming invented key ids cannot turn every request into a call to the issuer.
JWKS_LIFESPAN_S = 600.0
JWKS_REFRESH_COOLDOWN_S = 5.0
JWKS_TIMEOUT_S = 3.0

_SYMMETRIC = "HS256"


# The JWT library's errors by name (the library is imported with the first token). Checked in
# order: subclasses (InvalidSignatureError is a DecodeError) come before their bases.
_FAILURES = (
    ("ExpiredSignatureError", "token_expired", "token has expired"),
    ("ImmatureSignatureError", "token_not_yet_valid", "token is not valid yet"),
    ("InvalidAudienceError", "token_invalid_audience", "token is not meant for this service"),
    ("InvalidIssuerError", "token_invalid_issuer", "token comes from an unknown issuer"),
    ("InvalidSignatureError", "token_invalid_signature", "token signature is invalid"),
    ("InvalidAlgorithmError", "token_algorithm_not_allowed", "token algorithm is not allowed"),
    ("MissingRequiredClaimError", "token_missing_claim", "token lacks a required claim"),
)


@before_snapshot
def _load_jwt() -> None:
    # A function restored from a snapshot (SnapStart) verifies a token at its first request: the
    # library is in the snapshot instead of being imported then. Without SnapStart this never runs.
    importlib.import_module("jwt")


@dataclass(frozen=True)
class Audience:
    """Whom a token must be meant for: an ``aud`` among ``audiences``, or for a Cognito access
    token (``client_id`` and no ``aud``) a ``client_id`` among ``client_ids``."""

    audiences: tuple[str, ...]
    client_ids: tuple[str, ...]

    @classmethod
    def of_api(cls, settings: Settings) -> Audience:
        """The API's own: ``AUTH_AUDIENCE``, as API Gateway's JWT authorizer checks it."""
        return cls(audiences=(settings.auth_audience,), client_ids=(settings.auth_audience,))


class Identity(DeferredModel):
    """Who is calling: the token's subject, email and role."""

    model_config = ConfigDict(frozen=True)

    sub: str = Field(min_length=1)
    email: str | None = None
    role: str = DEFAULT_ROLE
    # Set for a run-scoped token (`auralink.run_tokens`): the run this caller acts for.
    run_id: str | None = None

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Identity:
        email = claims.get("email")
        return cls(sub=claims["sub"], email=email if isinstance(email, str) else None, role=_role(claims))


# The issuer of run-scoped tokens (`auralink.run_tokens`), which no user's token may carry.
RUN_TOKEN_ISSUER = "auralink-run"  # noqa: S105  # an issuer, not a secret


def _role(claims: Mapping[str, Any]) -> str:
    # Our own tokens say `role`; Cognito carries it as a custom attribute or as group membership.
    for name in ("role", "custom:role"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    groups = claims.get("cognito:groups")
    if isinstance(groups, list) and groups and isinstance(groups[0], str) and groups[0]:
        return groups[0]
    return DEFAULT_ROLE


def identity_from_authorization_header(header: str | None, audience: Audience | None = None) -> Identity:
    """The identity in an ``Authorization: Bearer <token>`` header value (for ``audience``, by
    default the API's)."""
    if header is None or not header.strip():
        raise Unauthorized("authorization token is missing", code="token_missing")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("authorization header must use the Bearer scheme", code="token_malformed")
    return verify_token(token.strip(), audience)


def is_run_token(token: str) -> bool:
    """Whether ``token`` says it is a run-scoped token (unverified: only to route it)."""
    import jwt  # noqa: PLC0415

    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return isinstance(unverified, dict) and unverified.get("iss") == RUN_TOKEN_ISSUER


def verify_token(token: str, audience: Audience | None = None) -> Identity:
    """Check a JWT's algorithm, signature, lifetime, issuer, audience and subject; the audience
    is ``audience``'s, by default the API's own (``AUTH_AUDIENCE``).

    A run-scoped token is refused here by name: only the surfaces a run's framework calls accept
    one (`auralink.run_tokens.verify`), never a user's JWT's place."""
    if not token:
        raise Unauthorized("authorization token is missing", code="token_missing")
    if is_run_token(token):
        raise Unauthorized("run-scoped tokens are not accepted here", code="run_token_refused")
    import jwt  # noqa: PLC0415

    settings = get_settings()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthorized("token is malformed", code="token_malformed") from None
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in settings.auth_algorithms:
        raise Unauthorized("token algorithm is not allowed", code="token_algorithm_not_allowed")
    if algorithm == _SYMMETRIC:
        key: jwt.PyJWK | str = _hmac_secret(settings)
        allowed = [_SYMMETRIC]
    else:
        key = _jwks_key(settings, header.get("kid"))
        allowed = [name for name in settings.auth_algorithms if name != _SYMMETRIC]
    claims = _decode(token, key, allowed, settings, audience or Audience.of_api(settings))
    try:
        return Identity.from_claims(claims)
    except ValueError:
        raise Unauthorized("token subject is empty", code="token_missing_claim") from None


def reset_caches() -> None:
    """Forget JWKS clients and their keys (tests, and SnapStart's after-restore hook)."""
    _jwks_client.cache_clear()


def _is_cognito_access_token(token: str) -> bool:
    # Cognito access tokens carry the app client in `client_id` instead of `aud`; API Gateway's
    # JWT authorizer accepts either, and so do we (only after the signature is verified below).
    import jwt  # noqa: PLC0415

    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return "aud" not in unverified and unverified.get("token_use") == "access" and "client_id" in unverified


def _decode(
    token: str, key: jwt.PyJWK | str, allowed: Sequence[str], settings: Settings, audience: Audience
) -> dict[str, Any]:
    import jwt  # noqa: PLC0415

    access_token = _is_cognito_access_token(token)
    required = [claim for claim in REQUIRED_CLAIMS if not (access_token and claim == "aud")]
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=allowed,
            audience=None if access_token else list(audience.audiences),
            issuer=settings.auth_issuer,
            leeway=LEEWAY_S,
            options={"require": required, "verify_aud": not access_token},
        )
    except jwt.InvalidKeyError:
        # The key we hold (secret or JWKS entry) does not suit the algorithm: a deployment fault.
        raise ConfigurationError("token verification key is unusable", code="auth_key_invalid") from None
    except jwt.PyJWTError as exc:
        for error_name, code, message in _FAILURES:
            if isinstance(exc, getattr(jwt, error_name)):
                raise Unauthorized(message, code=code) from None
        raise Unauthorized("token is malformed", code="token_malformed") from None
    if access_token and claims.get("client_id") not in audience.client_ids:
        raise Unauthorized("token is not meant for this service", code="token_invalid_audience")
    return claims


def _hmac_secret(settings: Settings) -> str:
    if not settings.auth_jwt_secret_id:
        raise ConfigurationError("AUTH_JWT_SECRET_ID is not set", code="auth_key_invalid")
    return secret_store.get_secret_string(settings.auth_jwt_secret_id)


def _jwks_key(settings: Settings, kid: object) -> jwt.PyJWK:
    if not settings.auth_jwks_url:
        raise ConfigurationError("AUTH_JWKS_URL is not set", code="auth_key_invalid")
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("token names no known signing key", code="token_unknown_key")
    import jwt  # noqa: PLC0415

    try:
        return _jwks_client(settings.auth_jwks_url).get_signing_key(kid)
    except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError, ValueError) as exc:
        # ValueError: the endpoint answered something that is not JSON.
        logger.warning("JWKS endpoint unavailable", extra={"error": type(exc).__name__})
        raise ServiceUnavailable("token keys cannot be fetched", code="jwks_unavailable") from None
    except jwt.PyJWKClientError:
        raise Unauthorized("token names no known signing key", code="token_unknown_key") from None


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    # One client per container and URL: its key set cache is what spares the issuer a fetch per request.
    import jwt  # noqa: PLC0415

    return jwt.PyJWKClient(
        url,
        cache_jwk_set=True,
        lifespan=JWKS_LIFESPAN_S,
        timeout=JWKS_TIMEOUT_S,
        cooldown_duration=JWKS_REFRESH_COOLDOWN_S,
    )
