"""Secrets Manager access (moto at the AWS boundary) and the development secrets of a clone."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import jwt
import pytest
from moto import mock_aws

from auralink import auth, crypto, secrets
from auralink.errors import ConfigurationError
from auralink.settings import reset_settings
from infra.local import token as token_cli
from infra.local.devsecrets import (
    CREDENTIALS_KEY_VAR,
    DEV_AUDIENCE,
    DEV_CREDENTIALS_KEY_SECRET_NAME,
    DEV_ISSUER,
    DEV_JWT_SECRET_NAME,
    JWT_SECRET_VAR,
    dev_auth_environment,
    ensure_dev_secrets,
    load_into_secrets_manager,
)
from infra.local.token import mint_dev_token

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient

SENTINEL = "s3cr3t-value-that-must-never-leak"


@pytest.fixture
def sm(service_environment: pytest.MonkeyPatch) -> Iterator[SecretsManagerClient]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


# --- Secrets Manager access -------------------------------------------------------------------


def test_reads_a_string_and_a_json_secret(sm: SecretsManagerClient) -> None:
    sm.create_secret(Name="app/plain", SecretString="hello")
    sm.create_secret(Name="app/json", SecretString=json.dumps({"a": 1}))

    assert secrets.get_secret_string("app/plain") == "hello"
    assert secrets.get_secret_json("app/json") == {"a": 1}


def test_a_second_read_is_served_from_the_cache(sm: SecretsManagerClient) -> None:
    # Given a secret read once
    sm.create_secret(Name="app/plain", SecretString="first")
    assert secrets.get_secret_string("app/plain") == "first"
    # When it changes in Secrets Manager
    sm.put_secret_value(SecretId="app/plain", SecretString="second")
    # Then the container keeps the cached value (no second AWS call) until the cache is dropped
    assert secrets.get_secret_string("app/plain") == "first"
    secrets.reset_caches()
    assert secrets.get_secret_string("app/plain") == "second"


def test_max_age_comes_from_settings(sm: SecretsManagerClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_MAX_AGE_S", "0")
    reset_settings()
    sm.create_secret(Name="app/plain", SecretString="first")
    assert secrets.get_secret_string("app/plain") == "first"

    sm.put_secret_value(SecretId="app/plain", SecretString="second")

    assert secrets.get_secret_string("app/plain") == "second"


def test_json_cache_hands_out_copies(sm: SecretsManagerClient) -> None:
    sm.create_secret(Name="app/json", SecretString=json.dumps({"a": 1}))
    secrets.get_secret_json("app/json")["a"] = 2

    assert secrets.get_secret_json("app/json") == {"a": 1}


def test_binary_secret_is_read_as_text(sm: SecretsManagerClient) -> None:
    sm.create_secret(Name="app/binary", SecretBinary=b"bytes-as-text")

    assert secrets.get_secret_string("app/binary") == "bytes-as-text"


def test_missing_secret_is_a_configuration_error_naming_the_id(sm: SecretsManagerClient) -> None:
    with pytest.raises(ConfigurationError) as info:
        secrets.get_secret_string("app/absent")

    assert info.value.code == "secret_unavailable"
    assert "app/absent" in str(info.value)


@pytest.mark.parametrize("document", [f"not json {SENTINEL}", json.dumps([SENTINEL])])
def test_a_json_secret_that_is_no_object_fails_without_its_value(
    sm: SecretsManagerClient, document: str
) -> None:
    sm.create_secret(Name="app/json", SecretString=document)

    with pytest.raises(ConfigurationError) as info:
        secrets.get_secret_json("app/json")

    assert info.value.code == "secret_unavailable"
    assert "app/json" in str(info.value)
    assert SENTINEL not in str(info.value)
    assert info.value.__cause__ is None


# --- Development secrets ------------------------------------------------------------------------


def test_dev_secrets_are_created_once_with_mode_0600(tmp_path: Path) -> None:
    created = ensure_dev_secrets(tmp_path)
    env_file = tmp_path / ".env"
    first_text = env_file.read_text()

    again = ensure_dev_secrets(tmp_path)

    assert again == created
    assert env_file.read_text() == first_text
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert len(created.jwt_secret) >= 86  # 64 random bytes, URL-safe
    assert len(created.credentials_key) >= 32
    assert created.jwt_secret not in repr(created)
    assert created.credentials_key not in repr(created)


def test_dev_secrets_keep_other_lines_and_fill_in_what_is_missing(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# local settings\nPORT=4000\nAURALINK_DEV_CREDENTIALS_KEY=" + "k" * 40)

    dev = ensure_dev_secrets(tmp_path)

    lines = env_file.read_text().splitlines()
    assert lines[:3] == ["# local settings", "PORT=4000", "AURALINK_DEV_CREDENTIALS_KEY=" + "k" * 40]
    assert lines[3] == f"{JWT_SECRET_VAR}={dev.jwt_secret}"
    assert dev.credentials_key == "k" * 40
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_a_hand_shortened_dev_secret_is_refused_without_echoing_it(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"{JWT_SECRET_VAR}=tiny-value\n{CREDENTIALS_KEY_VAR}={'k' * 40}\n")

    with pytest.raises(ConfigurationError) as info:
        ensure_dev_secrets(tmp_path)

    assert JWT_SECRET_VAR in str(info.value)
    assert "tiny-value" not in str(info.value)


def test_dev_secrets_load_into_secrets_manager_idempotently(sm: SecretsManagerClient, tmp_path: Path) -> None:
    dev = ensure_dev_secrets(tmp_path)

    load_into_secrets_manager(dev, sm)
    load_into_secrets_manager(dev, sm)

    assert sm.get_secret_value(SecretId=DEV_JWT_SECRET_NAME)["SecretString"] == dev.jwt_secret
    keys = json.loads(sm.get_secret_value(SecretId=DEV_CREDENTIALS_KEY_SECRET_NAME)["SecretString"])
    assert keys == {"active_key_id": "dev1", "dev1": dev.credentials_key}


@pytest.fixture
def dev_runtime(sm: SecretsManagerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The settings and secrets the local runtime gives the services."""
    load_into_secrets_manager(ensure_dev_secrets(tmp_path), sm)
    for name, value in dev_auth_environment().items():
        monkeypatch.setenv(name, value)
    reset_settings()
    return tmp_path


def test_a_minted_dev_token_verifies_under_the_dev_settings(dev_runtime: Path) -> None:
    token = mint_dev_token("alice", email="alice@example.com", role="admin", root=dev_runtime)

    identity = auth.verify_token(token)

    assert (identity.sub, identity.email, identity.role) == ("alice", "alice@example.com", "admin")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"]) == (DEV_ISSUER, DEV_AUDIENCE)
    assert claims["exp"] - claims["iat"] == 3600


def test_dev_credentials_key_encrypts_under_the_dev_settings(dev_runtime: Path) -> None:
    sealed = crypto.encrypt_credential("sk-test", owner_id="alice", record_id="r1", purpose="llm_api_key")

    assert sealed.startswith("v1.dev1.")
    opened = crypto.decrypt_credential_text(sealed, owner_id="alice", record_id="r1", purpose="llm_api_key")
    assert opened == "sk-test"


def test_token_command_prints_the_token_as_its_last_line(
    dev_runtime: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(token_cli, "PROJECT_ROOT", dev_runtime)

    assert token_cli.main(["bob", "--role", "viewer", "--ttl", "60"]) == 0

    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    identity = auth.verify_token(last_line)
    assert (identity.sub, identity.email, identity.role) == ("bob", None, "viewer")


def test_token_command_refuses_a_non_positive_ttl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(token_cli, "PROJECT_ROOT", tmp_path)

    assert token_cli.main(["bob", "--ttl", "0"]) == 2
    assert capsys.readouterr().out == ""
