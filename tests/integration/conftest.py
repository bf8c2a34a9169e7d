"""The service's environment for integration tests: the session database, HS256 tokens, moto,
and the local runtime for the tests that run the real state machine."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import jwt
import psycopg
import pytest
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from auralink.crypto import generate_key_material
from infra.local.postgres import LocalDatabase
from infra.local.runtime import LocalRuntime
from tests.support import environment

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://issuer.test"
AUDIENCE = "auralink-test"
JWT_SECRET_ID = "auralink/test/jwt"
JWT_SECRET = "integration-tests-jwt-secret-0123456789abcdef0123456789abcdef"
CREDENTIALS_KEY_SECRET_ID = "auralink/test/credentials-key"


@pytest.fixture
def service(
    database: LocalDatabase, owner_conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.MonkeyPatch]:
    """The environment a deployed function sees, on the session database, with moto's Secrets Manager.

    The registry servers' shared breakers and rate limits start empty: they are counted by the
    server's name, so the tests of the worker's database before this one (an unreachable default
    endpoint opens a breaker for 30 s) would otherwise weigh on it. A user's own servers are
    counted per user, and every test has users of its own."""
    owner_conn.execute("DELETE FROM mcp_circuit_breakers WHERE server NOT LIKE 'user:%'")
    owner_conn.execute(
        "DELETE FROM mcp_rate_windows WHERE bucket LIKE 'server:%' AND bucket NOT LIKE 'server:user:%'"
    )
    environment.apply(
        monkeypatch,
        DATABASE_URL=database.app_dsn,
        AUTH_ISSUER=ISSUER,
        AUTH_AUDIENCE=AUDIENCE,
        AUTH_JWT_SECRET_ID=JWT_SECRET_ID,
        MCP_CONFIG_PATH=str(ROOT / "shared" / "configs" / "mcp-config.yaml"),
    )
    with mock_aws():
        boto3.client("secretsmanager").create_secret(Name=JWT_SECRET_ID, SecretString=JWT_SECRET)
        yield monkeypatch
    environment.forget_caches()


@pytest.fixture
def credentials_key(service: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The service's environment with the credential encryption key in Secrets Manager."""
    boto3.client("secretsmanager").create_secret(
        Name=CREDENTIALS_KEY_SECRET_ID,
        SecretString=json.dumps({"active_key_id": "k1", "k1": generate_key_material()}),
    )
    service.setenv("CREDENTIALS_KEY_SECRET_ID", CREDENTIALS_KEY_SECRET_ID)
    environment.forget_caches()
    return service


@pytest.fixture
def token_for() -> Callable[..., str]:
    def mint(sub: str, **claims: object) -> str:
        now = int(time.time())
        body = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, JWT_SECRET, algorithm="HS256")

    return mint


@pytest.fixture(scope="module")
def local_runtime(database: LocalDatabase, request: pytest.FixtureRequest) -> Iterator[LocalRuntime]:
    """A local runtime on the suite's database for the tests of one module (it sets the process
    environment its authorizer reads, so it never outlives the module). A module's
    `ENVIRONMENT_SETUP` names hooks its function environments call once their handler is loaded."""
    # The suite's server as its administrator, naming the suite's database.
    url = make_conninfo(database.admin_dsn, dbname=str(conninfo_to_dict(database.owner_dsn)["dbname"]))
    setup = getattr(request.module, "ENVIRONMENT_SETUP", ())
    runtime = LocalRuntime(ROOT, port=0, database_url=url, schedules=False, environment_setup=setup)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()
