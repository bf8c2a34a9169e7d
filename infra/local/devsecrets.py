"""Development secrets: generated once per clone into the git-ignored ``.env``, never committed.

The first run writes a random JWT secret and credential key material to ``<root>/.env`` (mode 0600);
later runs read the same values, so tokens minted yesterday still verify and stored credentials
still decrypt. The local runtime then loads them into its Secrets Manager emulation under the ids
that the development settings name (`dev_auth_environment`).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from typing import TYPE_CHECKING

from auralink.crypto import ACTIVE_KEY_FIELD, MIN_KEY_MATERIAL_CHARS, generate_key_material
from auralink.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient

__all__ = [
    "DEV_AUDIENCE",
    "DEV_CREDENTIALS_KEY_ID",
    "DEV_CREDENTIALS_KEY_SECRET_NAME",
    "DEV_ISSUER",
    "DEV_JWT_SECRET_NAME",
    "DEV_SERVICE_TOKEN_SECRET_NAME",
    "DevSecrets",
    "dev_auth_environment",
    "ensure_dev_secrets",
    "load_into_secrets_manager",
]

DEV_ISSUER = "http://127.0.0.1/auralink-local"
DEV_AUDIENCE = "auralink-api"
DEV_JWT_SECRET_NAME = "auralink/dev/jwt-secret"  # noqa: S105  # a secret id, not a value
DEV_CREDENTIALS_KEY_SECRET_NAME = "auralink/dev/credentials-key"  # noqa: S105  # a secret id
DEV_CREDENTIALS_KEY_ID = "dev1"
DEV_SERVICE_TOKEN_SECRET_NAME = "auralink/dev/service-token-secret"  # noqa: S105  # a secret id

ENV_FILE_NAME = ".env"
JWT_SECRET_VAR = "AURALINK_DEV_JWT_SECRET"  # noqa: S105  # a variable name
CREDENTIALS_KEY_VAR = "AURALINK_DEV_CREDENTIALS_KEY"
SERVICE_TOKEN_SECRET_VAR = "AURALINK_DEV_SERVICE_TOKEN_SECRET"  # noqa: S105  # a variable name
_JWT_SECRET_BYTES = 64
# token_urlsafe(64) yields 86 characters; anything shorter was not made here.
_MIN_JWT_SECRET_CHARS = 86


@dataclass(frozen=True)
class DevSecrets:
    """The clone's development secrets (kept out of repr so that they never reach a log)."""

    jwt_secret: str = field(repr=False)
    credentials_key: str = field(repr=False)
    service_token_secret: str = field(repr=False)
    path: Path


def ensure_dev_secrets(project_root: Path) -> DevSecrets:
    """Read the development secrets from ``<root>/.env``, generating the missing ones first.

    Existing values and unrelated lines are kept as they are. The file is locked while it is read
    and extended, so two commands started together on a fresh clone agree on one set of values.
    """
    path = project_root / ENV_FILE_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+", encoding="utf-8") as env_file:
        fcntl.flock(env_file, fcntl.LOCK_EX)
        text = env_file.read()
        values = _parse_env(text)
        generators: dict[str, Callable[[], str]] = {
            JWT_SECRET_VAR: lambda: token_urlsafe(_JWT_SECRET_BYTES),
            CREDENTIALS_KEY_VAR: generate_key_material,
            SERVICE_TOKEN_SECRET_VAR: lambda: token_urlsafe(_JWT_SECRET_BYTES),
        }
        missing = {name: make() for name, make in generators.items() if not values.get(name)}
        if missing:
            separator = "" if not text or text.endswith("\n") else "\n"
            env_file.write(separator + "".join(f"{name}={value}\n" for name, value in missing.items()))
            env_file.flush()
            os.fchmod(env_file.fileno(), 0o600)
            values.update(missing)
    dev = DevSecrets(
        jwt_secret=values[JWT_SECRET_VAR],
        credentials_key=values[CREDENTIALS_KEY_VAR],
        service_token_secret=values[SERVICE_TOKEN_SECRET_VAR],
        path=path,
    )
    _check(dev)
    return dev


def dev_auth_environment() -> dict[str, str]:
    """The settings variables under which the services verify development tokens and keys."""
    return {
        "ENVIRONMENT": "development",
        "AUTH_ISSUER": DEV_ISSUER,
        "AUTH_AUDIENCE": DEV_AUDIENCE,
        "AUTH_ALGORITHMS": "HS256",
        "AUTH_JWT_SECRET_ID": DEV_JWT_SECRET_NAME,
        "CREDENTIALS_KEY_SECRET_ID": DEV_CREDENTIALS_KEY_SECRET_NAME,
        "SERVICE_TOKEN_SECRET_ID": DEV_SERVICE_TOKEN_SECRET_NAME,
    }


def load_into_secrets_manager(secrets: DevSecrets, client: SecretsManagerClient) -> None:
    """Create, or overwrite, the development secrets in ``client``'s Secrets Manager."""
    credentials_key = {
        ACTIVE_KEY_FIELD: DEV_CREDENTIALS_KEY_ID,
        DEV_CREDENTIALS_KEY_ID: secrets.credentials_key,
    }
    for name, value in (
        (DEV_JWT_SECRET_NAME, secrets.jwt_secret),
        (DEV_CREDENTIALS_KEY_SECRET_NAME, json.dumps(credentials_key)),
        (DEV_SERVICE_TOKEN_SECRET_NAME, secrets.service_token_secret),
    ):
        try:
            client.create_secret(Name=name, SecretString=value)
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=name, SecretString=value)


def _parse_env(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    return values


def _check(dev: DevSecrets) -> None:
    # Hand-edited values are accepted only if they are as strong as generated ones.
    if len(dev.jwt_secret) < _MIN_JWT_SECRET_CHARS:
        raise ConfigurationError(
            f"{JWT_SECRET_VAR} in {dev.path} is shorter than {_MIN_JWT_SECRET_CHARS} characters"
        )
    if len(dev.service_token_secret) < _MIN_JWT_SECRET_CHARS:
        raise ConfigurationError(
            f"{SERVICE_TOKEN_SECRET_VAR} in {dev.path} is shorter than {_MIN_JWT_SECRET_CHARS} characters"
        )
    if len(dev.credentials_key) < MIN_KEY_MATERIAL_CHARS:
        raise ConfigurationError(
            f"{CREDENTIALS_KEY_VAR} in {dev.path} is shorter than {MIN_KEY_MATERIAL_CHARS} characters"
        )
