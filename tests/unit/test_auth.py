"""JWT verification: HS256 with a Secrets Manager secret, RS256/ES256 from a JWKS endpoint on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from moto import mock_aws

from auralink import auth, secrets
from auralink.auth import Identity, identity_from_authorization_header, verify_token
from auralink.errors import ServiceUnavailable, Unauthorized
from auralink.settings import reset_settings
from tests.fakes.jwks_server import JwksServer, SigningKey

ISSUER = "https://issuer.test/pool"
AUDIENCE = "auralink-test"
HS_SECRET = "a-development-secret-that-is-long-enough-for-hs256-0123456789abcdef"
JWT_SECRET_ID = "test/jwt"


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.rsa("rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey.ec("ec-1")


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Sets the auth settings; HS256's secret lives in a moto Secrets Manager."""
    base = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "ENVIRONMENT": "development",
        "DATABASE_URL": "postgresql://unused@127.0.0.1/unused",
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
    }
    for name, value in base.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AUTH_JWKS_URL", "AUTH_JWT_SECRET_ID", "SECRETS_MAX_AGE_S"):
        monkeypatch.delenv(name, raising=False)

    def apply(algorithms: str, *, jwks_url: str | None = None) -> None:
        monkeypatch.setenv("AUTH_ALGORITHMS", algorithms)
        if "HS256" in algorithms:
            monkeypatch.setenv("AUTH_JWT_SECRET_ID", JWT_SECRET_ID)
        if jwks_url is not None:
            monkeypatch.setenv("AUTH_JWKS_URL", jwks_url)
        reset_settings()

    secrets.reset_caches()
    auth.reset_caches()
    with mock_aws():
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=JWT_SECRET_ID, SecretString=HS_SECRET
        )
        yield apply
    secrets.reset_caches()
    auth.reset_caches()
    reset_settings()


@pytest.fixture
def hs256(configure: Any) -> None:
    configure("HS256")


@pytest.fixture
def jwks(configure: Any, rsa_key: SigningKey, ec_key: SigningKey) -> Iterator[JwksServer]:
    with JwksServer() as server:
        server.publish(rsa_key)
        server.publish(ec_key)
        configure("RS256,ES256", jwks_url=server.url)
        yield server


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 600}
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def hs_token(secret: str = HS_SECRET, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), secret, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade_token(header: dict[str, Any], payload: dict[str, Any], sign: Any = None) -> str:
    """A token built by hand, for headers that pyjwt refuses to produce."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = sign(signing_input.encode()) if sign else b""
    return f"{signing_input}.{_b64(signature)}"


def rejection(token: str | None, *, header: bool = False) -> str:
    with pytest.raises(Unauthorized) as info:
        if header:
            identity_from_authorization_header(token)
        else:
            verify_token(token or "")
    for part in (token or "").split("."):
        if len(part) >= 8:
            assert part not in str(info.value)
    return info.value.code


# --- Accepted tokens -------------------------------------------------------------------------------


def test_valid_hs256_token(hs256: None) -> None:
    identity = verify_token(hs_token(email="alice@example.com", role="admin"))

    assert identity == Identity(sub="alice", email="alice@example.com", role="admin")


def test_valid_rs256_token(jwks: JwksServer, rsa_key: SigningKey) -> None:
    assert verify_token(rsa_key.sign(claims())).sub == "alice"


def test_valid_es256_token(jwks: JwksServer, ec_key: SigningKey) -> None:
    assert verify_token(ec_key.sign(claims(sub="bob"))).sub == "bob"


def test_bearer_header(hs256: None) -> None:
    assert identity_from_authorization_header(f"Bearer {hs_token()}").sub == "alice"
    assert identity_from_authorization_header(f"bearer  {hs_token()} ").sub == "alice"


def test_small_clock_skew_is_tolerated(hs256: None) -> None:
    now = int(time.time())

    assert verify_token(hs_token(exp=now - 5, iat=now - 600)).sub == "alice"
    assert verify_token(hs_token(nbf=now + 5)).sub == "alice"


@pytest.mark.parametrize(
    ("extra", "role"),
    [
        ({}, "user"),
        ({"role": "admin"}, "admin"),
        ({"custom:role": "editor"}, "editor"),
        ({"cognito:groups": ["ops", "dev"]}, "ops"),
        ({"role": "admin", "custom:role": "editor", "cognito:groups": ["ops"]}, "admin"),
        ({"custom:role": "editor", "cognito:groups": ["ops"]}, "editor"),
        ({"cognito:groups": []}, "user"),
    ],
)
def test_role_comes_from_role_then_custom_role_then_first_group(
    hs256: None, extra: dict[str, Any], role: str
) -> None:
    identity = verify_token(jwt.encode({**claims(), **extra}, HS_SECRET, algorithm="HS256"))

    assert identity.role == role
    assert identity.email is None


def test_identity_is_frozen() -> None:
    identity = Identity(sub="alice")

    with pytest.raises(ValueError):
        identity.sub = "mallory"  # type: ignore[misc]


# --- Rejected tokens -----------------------------------------------------------------------------------


def test_missing_token(hs256: None) -> None:
    assert rejection("") == "token_missing"
    assert rejection(None, header=True) == "token_missing"
    assert rejection("   ", header=True) == "token_missing"
    assert rejection("Bearer ", header=True) == "token_missing"


def test_malformed_token(hs256: None) -> None:
    assert rejection("not-a-jwt") == "token_malformed"
    assert rejection("a.b.c") == "token_malformed"
    assert rejection(f"Basic {hs_token()}", header=True) == "token_malformed"
    assert rejection(hs_token(sub=12345)) == "token_malformed"


def test_expired_token(hs256: None) -> None:
    now = int(time.time())

    assert rejection(hs_token(exp=now - 120, iat=now - 900)) == "token_expired"


def test_token_not_yet_valid(hs256: None) -> None:
    assert rejection(hs_token(nbf=int(time.time()) + 300)) == "token_not_yet_valid"


def test_wrong_audience(hs256: None) -> None:
    assert rejection(hs_token(aud="another-api")) == "token_invalid_audience"


def test_wrong_issuer(hs256: None) -> None:
    assert rejection(hs_token(iss="https://evil.test")) == "token_invalid_issuer"


def test_badly_signed_hs256_token(hs256: None) -> None:
    forged = hs_token(secret="another-secret-of-sufficient-length-to-avoid-warnings-0123456789")

    assert rejection(forged) == "token_invalid_signature"


def test_payload_changed_after_signing(hs256: None) -> None:
    header, _, signature = hs_token().split(".")
    payload = _b64(json.dumps(claims(sub="mallory")).encode())

    assert rejection(f"{header}.{payload}.{signature}") == "token_invalid_signature"


@pytest.mark.parametrize("claim", ["sub", "exp", "iss", "aud"])
def test_missing_required_claim(hs256: None, claim: str) -> None:
    token = jwt.encode(claims(**{claim: None}), HS_SECRET, algorithm="HS256")

    assert rejection(token) == "token_missing_claim"


def test_empty_subject(hs256: None) -> None:
    assert rejection(hs_token(sub="")) == "token_missing_claim"


def test_alg_none(configure: Any) -> None:
    configure("HS256,RS256,ES256", jwks_url="http://127.0.0.1:9/unused")
    token = handmade_token({"alg": "none", "typ": "JWT"}, claims())

    assert rejection(token) == "token_algorithm_not_allowed"


def test_algorithm_not_in_settings(hs256: None, rsa_key: SigningKey) -> None:
    assert rejection(rsa_key.sign(claims())) == "token_algorithm_not_allowed"


def _public_pem(key: SigningKey) -> bytes:
    return key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hs256_signed_with_public_key(key: SigningKey) -> str:
    pem = _public_pem(key)
    return handmade_token(
        {"alg": "HS256", "typ": "JWT", "kid": key.kid},
        claims(sub="mallory"),
        sign=lambda data: hmac.new(pem, data, hashlib.sha256).digest(),
    )


def test_algorithm_confusion_is_refused_when_only_rs256_is_allowed(
    jwks: JwksServer, rsa_key: SigningKey
) -> None:
    # Given a token that claims HS256 and is "signed" with the issuer's public key as HMAC secret
    token = _hs256_signed_with_public_key(rsa_key)

    # Then it is refused before any key is used, and the JWKS endpoint is not even asked
    assert rejection(token) == "token_algorithm_not_allowed"
    assert jwks.fetches == 0


def test_algorithm_confusion_fails_even_when_hs256_is_also_allowed(
    configure: Any, rsa_key: SigningKey
) -> None:
    with JwksServer() as server:
        server.publish(rsa_key)
        configure("HS256,RS256", jwks_url=server.url)

        # HS256 is checked against the configured secret only, never against a public key
        assert rejection(_hs256_signed_with_public_key(rsa_key)) == "token_invalid_signature"
        assert verify_token(rsa_key.sign(claims())).sub == "alice"


def test_token_signed_by_another_rsa_key_under_a_known_kid(jwks: JwksServer, rsa_key: SigningKey) -> None:
    impostor = SigningKey.rsa(rsa_key.kid)

    assert rejection(impostor.sign(claims())) == "token_invalid_signature"


def test_token_whose_algorithm_does_not_match_its_key(jwks: JwksServer, ec_key: SigningKey) -> None:
    # An ES256 signature presented under the RSA key's kid
    assert rejection(ec_key.sign(claims(), kid="rsa-1")) == "token_algorithm_not_allowed"


# --- JWKS: unknown keys, caching, outage ---------------------------------------------------------------


def test_unknown_kid(jwks: JwksServer, rsa_key: SigningKey) -> None:
    assert rejection(rsa_key.sign(claims(), kid="rsa-unknown")) == "token_unknown_key"
    assert rejection(handmade_token({"alg": "RS256"}, claims(), sign=lambda _: b"sig")) == "token_unknown_key"


def test_keys_are_fetched_once_per_container(
    jwks: JwksServer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    for _ in range(3):
        verify_token(rsa_key.sign(claims()))
        verify_token(ec_key.sign(claims()))

    assert jwks.fetches == 1


def test_an_unknown_kid_refetches_once_so_a_rotated_key_is_found(
    jwks: JwksServer, rsa_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "JWKS_REFRESH_COOLDOWN_S", 0.0)
    auth.reset_caches()
    # Given keys fetched before the issuer rotated
    verify_token(rsa_key.sign(claims()))
    assert jwks.fetches == 1
    # When a token arrives signed with a key published since
    rotated = SigningKey.rsa("rsa-2")
    jwks.publish(rotated)

    # Then one refetch finds it, and later tokens use the cache again
    assert verify_token(rotated.sign(claims(sub="carol"))).sub == "carol"
    assert jwks.fetches == 2
    verify_token(rotated.sign(claims()))
    assert jwks.fetches == 2
    # And a kid that is still unknown after the refetch is refused
    assert rejection(rsa_key.sign(claims(), kid="rsa-9")) == "token_unknown_key"
    assert jwks.fetches == 3


def test_invented_kids_cannot_force_a_fetch_per_request(jwks: JwksServer, rsa_key: SigningKey) -> None:
    verify_token(rsa_key.sign(claims()))

    for attempt in range(5):
        assert rejection(rsa_key.sign(claims(), kid=f"invented-{attempt}")) == "token_unknown_key"

    assert jwks.fetches == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_jwks_endpoint_down(configure: Any, rsa_key: SigningKey) -> None:
    configure("RS256", jwks_url=f"http://127.0.0.1:{_closed_port()}/jwks.json")

    with pytest.raises(ServiceUnavailable) as info:
        verify_token(rsa_key.sign(claims()))

    assert info.value.code == "jwks_unavailable"


def test_jwks_endpoint_answering_404(configure: Any, rsa_key: SigningKey) -> None:
    with JwksServer() as server:
        configure("RS256", jwks_url=server.url + "-missing")

        with pytest.raises(ServiceUnavailable) as info:
            verify_token(rsa_key.sign(claims()))

    assert info.value.code == "jwks_unavailable"


# --- Cognito access tokens -------------------------------------------------------------------------


def test_cognito_access_token_is_checked_on_client_id(jwks: JwksServer, rsa_key: SigningKey) -> None:
    # Cognito access tokens name the app client in client_id, not aud; API Gateway accepts both.
    token = rsa_key.sign(claims(aud=None, token_use="access", client_id=AUDIENCE, username="alice"))

    assert verify_token(token).sub == "alice"


def test_cognito_access_token_for_another_client_is_refused(jwks: JwksServer, rsa_key: SigningKey) -> None:
    token = rsa_key.sign(claims(aud=None, token_use="access", client_id="another-app"))

    assert rejection(token) == "token_invalid_audience"


def test_a_token_without_aud_that_is_not_an_access_token_is_refused(
    jwks: JwksServer, rsa_key: SigningKey
) -> None:
    token = rsa_key.sign(claims(aud=None, token_use="id", client_id=AUDIENCE))

    assert rejection(token) == "token_missing_claim"
