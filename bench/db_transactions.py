"""What one short transaction costs in round trips to Postgres: the service's two ways against the
two others psycopg offers, on loopback and behind a delay that stands in for a network.

Each variant is a transaction that carries a caller (the two `set_config` of
`auralink.db.connection`) and reads one row:

- ``statements``: `auralink.db.tenant_statements`: BEGIN, the caller, the read and COMMIT in one
  simple query, the read's value quoted by psycopg (one round trip);
- ``service``: `auralink.db.tenant_transaction`: BEGIN and the caller in one simple query, the read,
  COMMIT (three round trips);
- ``psycopg``: `Connection.transaction()` with the caller in a statement of its own (four);
- ``pipeline``: the same in psycopg's pipeline mode, which queues statements until a result is
  needed.

Three more read what a tool call reads of its connection when the server describes TOOLS tools
(about 97 KB of JSON): the whole list (``whole_list``), the one tool the call names (``one_tool``,
as `auralink.mcp.repository.get_with_tool_statement` does), or the tools' names alone
(``tool_names``, as the federated endpoint reads every connection to resolve a call); all the
service's way, in one round trip.

Run against an embedded Postgres of its own, through a TCP proxy on loopback that waits
DELAYS_MS before it forwards each packet, each way (0: loopback as it is). Medians of 1,000
transactions per variant, in alternating rounds.
"""

from __future__ import annotations

import glob
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from unittest.mock import patch

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from auralink.db import connection as db
from auralink.settings import reset_settings
from infra.local.postgres import start_local_postgres
from tests.support.environment import SERVICE_ENVIRONMENT

DELAYS_MS = (0.0, 0.25)
ROUNDS = 40
PER_ROUND = 25
_READ = "SELECT v FROM bench_rows WHERE id = %s"
TOOLS = 80
_WHOLE_LIST = "SELECT tools FROM bench_connections WHERE id = %s"
_ONE_TOOL = (
    "SELECT jsonb_path_query_first(tools, '$[*] ? (@.name == $name)', jsonb_build_object('name', %s::text))"
    " AS tool FROM bench_connections WHERE id = %s"
)
_TOOL_NAMES = (
    "SELECT (SELECT jsonb_agg(jsonb_build_object('name', t -> 'name')) FROM jsonb_array_elements(tools) t)"
    " AS tools FROM bench_connections WHERE id = %s"
)


def _tool_list() -> list[dict[str, object]]:
    """A server's tools as the service caches them, each with a description and eight parameters."""
    parameters = {f"p{index}": {"type": "string", "description": "a parameter " * 5} for index in range(8)}
    return [
        {
            "name": f"tool_{index}",
            "description": "Does a thing with a repository. " * 8,
            "input_schema": {"type": "object", "properties": parameters, "required": ["p0"]},
        }
        for index in range(TOOLS)
    ]


_IDENTITY = "SELECT set_config('app.current_user_id', %s, true), set_config('statement_timeout', %s, true)"


def _pump(source: socket.socket, target: socket.socket, delay_s: float) -> None:
    try:
        while data := source.recv(65536):
            if delay_s:
                time.sleep(delay_s)
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def _delaying_proxy(unix_socket: str, delay_s: float) -> Iterator[int]:
    """A TCP port on loopback that forwards to the server's Unix socket, ``delay_s`` late each way."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(unix_socket)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, target, delay_s), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def _variants(conn: psycopg.Connection) -> dict[str, Callable[[], object]]:
    def statements() -> object:
        (rows,) = db.tenant_statements("bench-user", [db.Statement(_READ, (1,))])
        return rows[0]

    def service() -> object:
        with db.tenant_transaction("bench-user") as tx:
            return tx.execute(_READ, (1,)).fetchone()

    def with_psycopg() -> object:
        with conn.transaction():
            conn.execute(_IDENTITY, ("bench-user", "5000"))
            return conn.execute(_READ, (1,)).fetchone()

    def pipeline() -> object:
        with conn.pipeline(), conn.transaction():
            conn.execute(_IDENTITY, ("bench-user", "5000"))
            return conn.execute(_READ, (1,)).fetchone()

    def whole_list() -> object:
        (rows,) = db.tenant_statements("bench-user", [db.Statement(_WHOLE_LIST, (1,))])
        return next(tool for tool in rows[0]["tools"] if tool["name"] == "tool_40")

    def one_tool() -> object:
        (rows,) = db.tenant_statements("bench-user", [db.Statement(_ONE_TOOL, ("tool_40", 1))])
        return rows[0]["tool"]

    def tool_names() -> object:
        (rows,) = db.tenant_statements("bench-user", [db.Statement(_TOOL_NAMES, (1,))])
        return next(tool for tool in rows[0]["tools"] if tool["name"] == "tool_40")

    return {
        "statements": statements,
        "service": service,
        "psycopg": with_psycopg,
        "pipeline": pipeline,
        "whole_list": whole_list,
        "one_tool": one_tool,
        "tool_names": tool_names,
    }


@contextmanager
def _service_on(dsn: str) -> Iterator[None]:
    """The service's settings on ``dsn`` for the block; this process's own are given back after it
    (`bench` runs the benchmarks that follow in the same process)."""
    with patch.dict(os.environ, {**SERVICE_ENVIRONMENT, "DATABASE_URL": dsn}):
        reset_settings()
        db.reset_connection()
        try:
            yield
        finally:
            db.reset_connection()
            reset_settings()  # read again, from the environment given back, at the next use


def _measure(dsn: str) -> dict[str, float]:
    with (
        _service_on(dsn),
        psycopg.connect(dsn, autocommit=True, prepare_threshold=None, row_factory=dict_row) as conn,
    ):
        variants = _variants(conn)
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for run in variants.values():  # warm-up, not counted
            for _ in range(PER_ROUND):
                run()
        for _ in range(ROUNDS):
            for name, run in variants.items():
                for _ in range(PER_ROUND):
                    started = time.perf_counter()
                    run()
                    samples[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = start_local_postgres(Path(folder) / "postgres", throwaway=True)
        try:
            with psycopg.connect(database.admin_dsn, autocommit=True) as admin:
                admin.execute("CREATE TABLE bench_rows (id int PRIMARY KEY, v int)")
                admin.execute("INSERT INTO bench_rows VALUES (1, 0)")
                admin.execute("CREATE TABLE bench_connections (id int PRIMARY KEY, tools jsonb)")
                admin.execute("INSERT INTO bench_connections VALUES (1, %s)", (Jsonb(_tool_list()),))
            unix_socket = glob.glob(conninfo_to_dict(database.admin_dsn)["host"] + "/.s.PGSQL.*")[0]
            read = f"one row (whole_list, one_tool, tool_names: of {TOOLS} tools)"
            print(f"a transaction reading {read}, median of {ROUNDS * PER_ROUND}:")
            for delay_ms in DELAYS_MS:
                with _delaying_proxy(unix_socket, delay_ms / 1000) as port:
                    figures = _measure(make_conninfo(database.admin_dsn, host="127.0.0.1", port=port))
                shown = ", ".join(f"{name} {value:.3f} ms" for name, value in figures.items())
                print(f"  {delay_ms:.2f} ms each way: {shown}")
        finally:
            database.stop()


if __name__ == "__main__":
    main()
