"""The local server's lifecycle: start, reuse, stop without leaving a process behind."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from infra.local.postgres import attach_postgres, discard_server, start_local_postgres

ROOT = Path(__file__).resolve().parents[3]


def _servers_for(data_dir: Path) -> list[int]:
    pids = []
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and str(data_dir) in " ".join(cmdline):
            pids.append(process.pid)
    return pids


@pytest.fixture
def data_dir(external_server: bool) -> Iterator[Path]:
    if external_server:
        pytest.skip("the embedded server is not used when DATABASE_URL names a server")
    path = ROOT / ".data" / f"test-lifecycle-{secrets.token_hex(4)}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_kept_server_stops_cleanly_and_starts_again_with_its_data(data_dir: Path) -> None:
    first = start_local_postgres(data_dir, throwaway=False)
    with psycopg.connect(first.owner_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (value text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
        assert conn.execute("SELECT current_user").fetchone() == ("auralink_owner",)
    first.stop()
    assert _servers_for(data_dir) == []
    assert (data_dir / "PG_VERSION").exists()

    second = start_local_postgres(data_dir, throwaway=False)
    try:
        with psycopg.connect(second.owner_dsn) as conn:
            assert conn.execute("SELECT value FROM kept").fetchall() == [("still here",)]
    finally:
        second.stop()
    assert _servers_for(data_dir) == []


def test_a_throwaway_server_leaves_neither_process_nor_files(data_dir: Path) -> None:
    db = start_local_postgres(data_dir, throwaway=True)
    assert _servers_for(data_dir) != []

    db.stop()
    db.stop()

    assert _servers_for(data_dir) == []
    assert not data_dir.exists()


def test_a_server_remembered_by_a_crashed_process_is_still_stopped(data_dir: Path) -> None:
    db = start_local_postgres(data_dir, throwaway=False)
    # A process that held the server and died without cleaning up (a pid above Linux's pid_max).
    handles = data_dir / ".handle_pids.json"
    handles.write_text(json.dumps([*json.loads(handles.read_text()), 2**22 + 1]))

    db.stop()

    assert _servers_for(data_dir) == []
    again = start_local_postgres(data_dir, throwaway=True)
    try:
        with psycopg.connect(again.owner_dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        again.stop()


def test_a_server_abandoned_by_a_dead_process_can_be_discarded(data_dir: Path) -> None:
    db = start_local_postgres(data_dir, throwaway=False)
    assert _servers_for(data_dir) != []

    discard_server(data_dir)

    assert _servers_for(data_dir) == []
    assert not data_dir.exists()
    db.stop()


def test_an_attached_throwaway_database_is_dropped(admin_dsn: str, admin_conn: psycopg.Connection) -> None:
    name = f"auralink_attach_{secrets.token_hex(4)}"
    db = attach_postgres(admin_dsn, database=name, throwaway=True)
    with psycopg.connect(db.owner_dsn) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("auralink_owner", name)

    db.stop()

    exists = admin_conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert exists is None
