"""The database URL read from Secrets Manager (moto stands in for AWS), as the functions do in AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict

from auralink.db import dsn_from_secret, system_transaction
from auralink.errors import ServiceUnavailable
from auralink.settings import reset_settings

UNREACHABLE = "postgresql://auralink_app:old-password@127.0.0.1:9/auralink"


@pytest.fixture
def secrets_manager(service_env: pytest.MonkeyPatch) -> Iterator[object]:
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DB_CONNECT_TIMEOUT_S": "1",
    }.items():
        service_env.setenv(key, value)
    service_env.delenv("AWS_ENDPOINT_URL", raising=False)
    service_env.delenv("DATABASE_URL")
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    with mock_aws():
        yield boto3.client("secretsmanager")
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def _use_secret(service_env: pytest.MonkeyPatch, client: object, name: str, value: str) -> None:
    client.create_secret(Name=name, SecretString=value)  # type: ignore[attr-defined]
    service_env.setenv("DATABASE_SECRET_ID", name)
    reset_settings()


def _current_user() -> str:
    with system_transaction() as conn:
        row = conn.execute("SELECT current_user AS role").fetchone()
    assert row is not None
    return str(row["role"])


def test_a_secret_holding_the_url(
    service_env: pytest.MonkeyPatch, secrets_manager: object, app_dsn: str
) -> None:
    _use_secret(service_env, secrets_manager, "db/url", app_dsn)
    assert _current_user() == "auralink_app"


def test_a_secret_holding_json_with_a_url(
    service_env: pytest.MonkeyPatch, secrets_manager: object, app_dsn: str
) -> None:
    _use_secret(service_env, secrets_manager, "db/json", json.dumps({"url": app_dsn}))
    assert _current_user() == "auralink_app"


def test_a_secret_written_by_rds(
    service_env: pytest.MonkeyPatch, secrets_manager: object, app_dsn: str
) -> None:
    params = conninfo_to_dict(app_dsn)
    document = {
        "engine": "postgres",
        "username": params["user"],
        "password": params.get("password") or "unused-by-a-trusting-server",
        "host": params["host"],
        "port": int(params.get("port") or 5432),
        "dbname": params["dbname"],
        # A local server over a Unix socket; RDS secrets leave this out and get TLS.
        "sslmode": "prefer",
    }
    _use_secret(service_env, secrets_manager, "db/rds", json.dumps(document))
    with system_transaction() as conn:
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}


def test_a_rotated_password_is_picked_up_without_waiting_for_the_cache(
    service_env: pytest.MonkeyPatch, secrets_manager: object, app_dsn: str
) -> None:
    _use_secret(service_env, secrets_manager, "db/rotating", UNREACHABLE)
    dsn_from_secret("db/rotating", max_age=300)  # the container has cached the old value
    secrets_manager.put_secret_value(SecretId="db/rotating", SecretString=app_dsn)  # type: ignore[attr-defined]

    assert _current_user() == "auralink_app"


def test_an_unchanged_secret_is_not_retried_forever(
    service_env: pytest.MonkeyPatch, secrets_manager: object
) -> None:
    _use_secret(service_env, secrets_manager, "db/down", UNREACHABLE)

    with pytest.raises(ServiceUnavailable) as raised, system_transaction():
        pass
    assert raised.value.code == "database_unavailable"
    assert "old-password" not in str(raised.value)
