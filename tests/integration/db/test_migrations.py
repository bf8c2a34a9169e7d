"""The migration runner against real databases: order, bookkeeping, idempotence, safety."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from auralink.db.migrate import MigrationError, apply_migrations, default_sql_root, load_migrations
from auralink.db.migrate import main as migrate_main
from infra.local.postgres import LocalDatabase

ALL_MIGRATIONS = [migration.name for migration in load_migrations(default_sql_root() / "migrations")]


def _recorded(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()  # type: ignore[return-value]


def test_a_new_database_gets_every_migration_in_order_then_nothing_on_rerun(fresh: LocalDatabase) -> None:
    assert apply_migrations(fresh.owner_dsn) == ALL_MIGRATIONS
    assert [name for _, name in _recorded(fresh.owner_dsn)] == ALL_MIGRATIONS

    assert apply_migrations(fresh.owner_dsn) == []
    assert len(_recorded(fresh.owner_dsn)) == len(ALL_MIGRATIONS)


def test_the_session_database_is_up_to_date(owner_dsn: str) -> None:
    assert apply_migrations(owner_dsn) == []


def test_an_edited_applied_migration_is_refused(fresh: LocalDatabase, sql_copy: Path) -> None:
    apply_migrations(fresh.owner_dsn, sql_root=sql_copy)
    edited = sql_copy / "migrations" / f"{ALL_MIGRATIONS[1]}.sql"
    edited.write_text(edited.read_text() + "\n-- an innocent-looking edit\n")

    with pytest.raises(MigrationError, match=ALL_MIGRATIONS[1]) as raised:
        apply_migrations(fresh.owner_dsn, sql_root=sql_copy)
    assert raised.value.code == "migration_failed"


def test_line_endings_alone_are_not_an_edit(fresh: LocalDatabase, sql_copy: Path) -> None:
    apply_migrations(fresh.owner_dsn, sql_root=sql_copy)
    for path in (sql_copy / "migrations").glob("*.sql"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))

    assert apply_migrations(fresh.owner_dsn, sql_root=sql_copy) == []


def test_only_the_new_migration_runs(fresh: LocalDatabase, sql_copy: Path) -> None:
    apply_migrations(fresh.owner_dsn, sql_root=sql_copy)
    (sql_copy / "migrations" / "0999_add_note.sql").write_text("ALTER TABLE users ADD COLUMN note text;\n")

    assert apply_migrations(fresh.owner_dsn, sql_root=sql_copy) == ["0999_add_note"]
    with psycopg.connect(fresh.owner_dsn) as conn:
        assert conn.execute("SELECT schema_version()").fetchone() == ("0999",)


def test_a_failing_migration_leaves_nothing_behind(fresh: LocalDatabase, sql_copy: Path) -> None:
    apply_migrations(fresh.owner_dsn, sql_root=sql_copy)
    (sql_copy / "migrations" / "0999_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nSELECT no_such_function();\n"
    )

    with pytest.raises(MigrationError, match="0999_broken"):
        apply_migrations(fresh.owner_dsn, sql_root=sql_copy)

    with psycopg.connect(fresh.owner_dsn) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
    assert "0999_broken" not in [name for _, name in _recorded(fresh.owner_dsn)]


def test_concurrent_runners_apply_each_migration_once(fresh: LocalDatabase) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(apply_migrations(fresh.owner_dsn))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(name for result in results for name in result) == sorted(ALL_MIGRATIONS)
    assert [name for _, name in _recorded(fresh.owner_dsn)] == ALL_MIGRATIONS


def test_schema_version_is_the_latest_migration(database: LocalDatabase) -> None:
    with psycopg.connect(database.app_dsn) as conn:
        (version,) = conn.execute("SELECT schema_version()").fetchone() or (None,)
    assert version == ALL_MIGRATIONS[-1][:4]


def test_the_app_password_is_stored_as_a_scram_verifier(
    fresh: LocalDatabase, external_server: bool, admin_conn: psycopg.Connection
) -> None:
    if external_server:
        pytest.skip("would change the application role's password on the developer's server")
    app_dsn = "postgresql://auralink_app:a-long-local-password@localhost/auralink"

    apply_migrations(fresh.owner_dsn, app_dsn=app_dsn)

    row = admin_conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'auralink_app'").fetchone()
    assert row is not None
    assert row["rolpassword"].startswith("SCRAM-SHA-256$")
    assert "a-long-local-password" not in row["rolpassword"]


def test_the_command_line_applies_and_reports(
    fresh: LocalDatabase, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**os.environ, "DATABASE_OWNER_URL": fresh.owner_dsn}
    env.pop("DATABASE_URL", None)

    first = subprocess.run(
        [sys.executable, "-m", "auralink.db.migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # Structured log lines share stdout with the report; the report lines are the plain ones.
    report = [line for line in first.stdout.splitlines() if not line.startswith("{")]
    assert first.returncode == 0, first.stderr
    assert report == [f"applied {name}" for name in ALL_MIGRATIONS]

    monkeypatch.setenv("DATABASE_OWNER_URL", fresh.owner_dsn)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert migrate_main() == 0
    assert capsys.readouterr().out.splitlines()[-1] == "schema is up to date"


def test_the_command_line_names_the_missing_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("DATABASE_OWNER_URL", "DATABASE_OWNER_SECRET_ID"):
        monkeypatch.delenv(variable, raising=False)

    assert migrate_main() == 2
    assert "DATABASE_OWNER_URL" in capsys.readouterr().err


def test_the_command_line_reports_a_failure_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_OWNER_URL", "postgresql://auralink_owner:pw-not-shown@127.0.0.1:9/auralink")

    assert migrate_main() == 1
    error = capsys.readouterr().err
    assert "database is unavailable" in error
    assert "pw-not-shown" not in error
