"""The environment the connection module reads, pointed at the session database."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from auralink.db import reset_connection
from auralink.db.migrate import default_sql_root
from auralink.settings import reset_settings
from infra.local.postgres import LocalDatabase, attach_postgres

SERVICE_ENV = {
    "ENVIRONMENT": "development",
    "AUTH_ISSUER": "https://issuer.test",
    "AUTH_AUDIENCE": "auralink-test",
    "AUTH_ALGORITHMS": "HS256",
    "AUTH_JWT_SECRET_ID": "auralink/test/jwt",
    "POWERTOOLS_SERVICE_NAME": "auralink-db-tests",
}


@pytest.fixture(autouse=True)
def service_env(database: LocalDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for key, value in SERVICE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", database.app_dsn)
    monkeypatch.delenv("DATABASE_SECRET_ID", raising=False)
    reset_settings()
    reset_connection()
    yield monkeypatch
    reset_connection()
    reset_settings()


@pytest.fixture
def fresh(admin_dsn: str) -> Iterator[LocalDatabase]:
    """An empty database of its own on the session's server, dropped afterwards."""
    db = attach_postgres(admin_dsn, database=f"auralink_scratch_{secrets.token_hex(4)}", throwaway=True)
    yield db
    db.stop()


@pytest.fixture
def sql_copy(tmp_path: Path) -> Path:
    """A copy of the migrations and seeds that a test may edit."""
    return Path(shutil.copytree(default_sql_root(), tmp_path / "sql"))
