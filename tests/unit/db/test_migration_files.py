"""The migration and seed files themselves, and how the runner reads them (no database)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auralink.db.migrate import MigrationError, SqlFile, default_sql_root, load_migrations

ROOT = Path(__file__).resolve().parents[3]


def test_the_runner_finds_the_repository_files() -> None:
    assert default_sql_root() == ROOT / "infra" / "db"


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [int(migration.version) for migration in load_migrations(default_sql_root() / "migrations")]
    assert versions == list(range(1, len(versions) + 1))


def test_migrations_load_in_version_order(tmp_path: Path) -> None:
    for name in ("0002_second.sql", "0010_tenth.sql", "0001_first.sql"):
        (tmp_path / name).write_text("SELECT 1;\n")

    assert [migration.name for migration in load_migrations(tmp_path)] == [
        "0001_first",
        "0002_second",
        "0010_tenth",
    ]


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "0001_Upper.sql", "0001_.sql"])
def test_a_badly_named_migration_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match="NNNN_"):
        load_migrations(tmp_path)


def test_two_migrations_with_one_version_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_one.sql").write_text("SELECT 1;\n")
    (tmp_path / "0001_other.sql").write_text("SELECT 2;\n")
    with pytest.raises(MigrationError, match="share a version"):
        load_migrations(tmp_path)


def test_the_checksum_ignores_line_endings_only(tmp_path: Path) -> None:
    unix, windows, edited = tmp_path / "a.sql", tmp_path / "b.sql", tmp_path / "c.sql"
    unix.write_bytes(b"SELECT 1;\nSELECT 2;\n")
    windows.write_bytes(b"SELECT 1;\r\nSELECT 2;\r\n")
    edited.write_bytes(b"SELECT 1;\nSELECT 3;\n")

    assert SqlFile.read(unix).checksum == SqlFile.read(windows).checksum
    assert SqlFile.read(unix).checksum != SqlFile.read(edited).checksum


def test_no_migration_manages_transactions_itself() -> None:
    # The runner wraps each file in a transaction; a COMMIT inside would split it.
    for migration in load_migrations(default_sql_root() / "migrations"):
        text = migration.sql.decode()
        assert not re.search(r"^\s*(BEGIN|COMMIT|ROLLBACK)\s*;", text, re.IGNORECASE | re.MULTILINE), (
            migration.name
        )
        # Statements that cannot run inside a transaction block.
        assert not re.search(r"INDEX\s+CONCURRENTLY|VACUUM|ALTER\s+SYSTEM", text, re.IGNORECASE), (
            migration.name
        )


def test_every_new_table_with_user_id_is_put_under_row_level_security() -> None:
    # The catalog test checks the database; this one points at the file to fix.
    for migration in load_migrations(default_sql_root() / "migrations"):
        text = migration.sql.decode()
        for table, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\);", text, re.DOTALL):
            if re.search(r"^\s+user_id\s", body, re.MULTILINE):
                assert f"SELECT enable_tenant_rls('{table}');" in text, f"{migration.name}: {table}"


def test_seeds_are_upserts() -> None:
    seeds = sorted((default_sql_root() / "seeds").glob("*.sql"))
    assert seeds
    for path in seeds:
        text = path.read_text()
        assert "ON CONFLICT" in text, path.name
        assert "DELETE" not in text.upper().replace("DELETE_", ""), path.name
