"""The service's environment for integration tests: the session database, HS256 tokens, moto."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import jwt
import pytest
from moto import mock_aws

from auralink import auth, config, secrets
from auralink.db import reset_connection
from auralink.settings import reset_settings
from infra.local.postgres import LocalDatabase

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://issuer.test"
AUDIENCE = "auralink-test"
JWT_SECRET_ID = "auralink/test/jwt"
JWT_SECRET = "integration-tests-jwt-secret-0123456789abcdef0123456789abcdef"


@pytest.fixture
def service(database: LocalDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The environment a deployed function sees, with Secrets Manager emulated by moto."""
    environment = {
        "ENVIRONMENT": "development",
        "DATABASE_URL": database.app_dsn,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_ALGORITHMS": "HS256",
        "AUTH_JWT_SECRET_ID": JWT_SECRET_ID,
        "MCP_CONFIG_PATH": str(ROOT / "shared" / "configs" / "mcp-config.yaml"),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "AuraLink",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    for key in ("DATABASE_SECRET_ID", "AWS_ENDPOINT_URL", "DATABASE_OWNER_URL", "DATABASE_OWNER_SECRET_ID"):
        monkeypatch.delenv(key, raising=False)
    _forget_caches()
    with mock_aws():
        boto3.client("secretsmanager").create_secret(Name=JWT_SECRET_ID, SecretString=JWT_SECRET)
        yield monkeypatch
    _forget_caches()


def _forget_caches() -> None:
    reset_settings()
    reset_connection()
    secrets.reset_caches()
    auth.reset_caches()
    config.reset_mcp_config()


@pytest.fixture
def token_for() -> Callable[..., str]:
    def mint(sub: str, **claims: object) -> str:
        now = int(time.time())
        body = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, JWT_SECRET, algorithm="HS256")

    return mint
