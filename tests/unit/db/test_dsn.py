"""Connection strings: from Secrets Manager values (moto) and for the local roles (no database)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict

from auralink.db import dsn_from_secret
from auralink.errors import ConfigurationError
from infra.local.postgres import _with


@pytest.fixture
def secretsmanager(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    parameters.clear_caches()
    with mock_aws():
        yield boto3.client("secretsmanager")
    parameters.clear_caches()


def _secret(client: object, value: str, name: str = "db") -> str:
    client.create_secret(Name=name, SecretString=value)  # type: ignore[attr-defined]
    return name


def test_a_url_is_used_as_is(secretsmanager: object) -> None:
    url = "postgresql://auralink_app:pw@db.internal:5432/auralink"
    assert dsn_from_secret(_secret(secretsmanager, url), max_age=0) == url


def test_a_keyword_connection_string_is_used_as_is(secretsmanager: object) -> None:
    dsn = "host=db.internal user=auralink_app password=pw dbname=auralink"
    assert dsn_from_secret(_secret(secretsmanager, dsn), max_age=0) == dsn


def test_a_json_secret_with_a_url(secretsmanager: object) -> None:
    url = "postgresql://auralink_app:pw@db.internal/auralink"
    assert dsn_from_secret(_secret(secretsmanager, json.dumps({"url": url})), max_age=0) == url


def test_an_rds_secret_becomes_a_tls_connection(secretsmanager: object) -> None:
    document = {
        "engine": "postgres",
        "username": "auralink_app",
        "password": "p@ss w'rd",
        "host": "db.cluster.eu-west-1.rds.amazonaws.com",
        "port": 5432,
        "dbname": "auralink",
    }
    params = conninfo_to_dict(dsn_from_secret(_secret(secretsmanager, json.dumps(document)), max_age=0))

    assert params == {
        "host": "db.cluster.eu-west-1.rds.amazonaws.com",
        "port": "5432",
        "dbname": "auralink",
        "user": "auralink_app",
        "password": "p@ss w'rd",
        "sslmode": "require",
    }


@pytest.mark.parametrize(
    "value",
    [
        '{"username": "auralink_app", "password": "hunter2"}',
        '{"password": "hunter2"',
        "hunter2 is not a connection string",
    ],
)
def test_a_malformed_secret_is_a_configuration_error_that_quotes_nothing(
    secretsmanager: object, value: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        dsn_from_secret(_secret(secretsmanager, value), max_age=0)

    assert raised.value.code == "secret_unavailable"
    assert "hunter2" not in str(raised.value)
    assert raised.value.__cause__ is None


def test_a_missing_secret_is_a_configuration_error(secretsmanager: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        dsn_from_secret("no/such/secret", max_age=0)
    assert raised.value.code == "secret_unavailable"
    assert "no/such/secret" in str(raised.value)


def test_a_local_role_dsn_keeps_the_server_and_drops_the_admins_password() -> None:
    admin = "postgresql://postgres:admin-pw@/postgres?host=/tmp/sock&port=5433"

    params = conninfo_to_dict(_with(admin, user="auralink_app", dbname="auralink"))

    assert params == {"user": "auralink_app", "dbname": "auralink", "host": "/tmp/sock", "port": "5433"}


def test_a_role_switch_is_added_to_existing_options() -> None:
    admin = "postgresql://admin:pw@db.local/postgres?options=-c%20search_path%3Dpublic"

    params = conninfo_to_dict(_with(admin, dbname="auralink_test", options="-c role=auralink_app"))

    assert params["options"] == "-c search_path=public -c role=auralink_app"
    assert params["user"] == "admin" and params["password"] == "pw"
