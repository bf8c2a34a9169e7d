"""One Postgres connection per warm container, and the transactions that carry the caller.

The connection is opened on first use, in autocommit mode so that every transaction is explicit,
with ``prepare_threshold=None`` so that RDS Proxy can multiplex it without pinning. Each request
runs in one transaction that first sets the caller with ``set_config(..., true)``, sent with its
BEGIN in one round trip: the setting is transaction-local, so it never outlives the request on the
same connection.

Round trips are what a transaction costs most, across a network to RDS. Statements known before a
transaction starts can go with its BEGIN (`tenant_batch`), or with its BEGIN and COMMIT
(`tenant_statements`): one simple query of several statements, whose values psycopg quotes
itself (the extended protocol that carries parameters takes one statement at a time).

Lambda runs one request at a time per container, but a request may use threads of its own
(LangGraph writes checkpoints from a background thread), so the connection is lent to one
transaction at a time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row

from auralink import secrets as secret_store
from auralink import tracing
from auralink.errors import ConfigurationError, ServiceUnavailable, Unauthorized
from auralink.observability import logger
from auralink.settings import Settings, get_settings
from auralink.snapstart import after_restore

Connection = psycopg.Connection[DictRow]
Rows = list[DictRow]

# BEGIN and the caller in one round trip: a simple query of two statements.
_BEGIN_AS = sql.SQL(
    "BEGIN; SELECT set_config('app.current_user_id', {}, true), set_config('statement_timeout', {}, true)"
)


@dataclass(frozen=True)
class Statement:
    """One statement of a batch, and its values as psycopg takes them: a sequence for ``%s`` in
    the query, a mapping for ``%(name)s``."""

    query: str
    params: Sequence[Any] | Mapping[str, Any] | None = None


_lock = threading.RLock()
_local = threading.local()
_connection: Connection | None = None


def dsn_from_secret(secret_id: str, *, max_age: int, force_fetch: bool = False) -> str:
    """The connection string held by a Secrets Manager secret.

    The secret is a connection string (URL or libpq ``key=value``), a JSON object with ``url``, or
    the JSON that RDS writes for a managed user (username, password, host, port, dbname).
    """
    text = secret_store.get_secret_string(secret_id, max_age=max_age, force_fetch=force_fetch).strip()
    if not text.startswith("{"):
        return _checked_dsn(secret_id, text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict):
        if isinstance(document.get("url"), str):
            return _checked_dsn(secret_id, document["url"])
        if {"username", "password", "host"} <= document.keys():
            return _rds_conninfo(document)
    raise _malformed(secret_id)


def _malformed(secret_id: str) -> ConfigurationError:
    return ConfigurationError(
        f"secret {secret_id!r} must hold a connection string or a JSON object with url or"
        " username/password/host",
        code="secret_unavailable",
    )


def _checked_dsn(secret_id: str, dsn: str) -> str:
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        # libpq's parse error may quote the string, password included.
        raise _malformed(secret_id) from None
    return dsn


def _rds_conninfo(document: dict[str, Any]) -> str:
    return make_conninfo(
        host=str(document["host"]),
        port=str(document.get("port", 5432)),
        dbname=str(document.get("dbname", "postgres")),
        user=str(document["username"]),
        password=str(document["password"]),
        # RDS always offers TLS; a secret may say otherwise for a local server.
        sslmode=str(document.get("sslmode", "require")),
    )


def _connect(settings: Settings) -> Connection:
    if settings.database_url is not None:
        return _open(settings.database_url.get_secret_value(), settings)
    if settings.database_secret_id is None:  # Settings guarantees one of the two
        raise ConfigurationError("DATABASE_URL or DATABASE_SECRET_ID must be set")
    dsn = dsn_from_secret(settings.database_secret_id, max_age=settings.secrets_max_age_s)
    try:
        return _open(dsn, settings)
    except ServiceUnavailable:
        # The password may have been rotated since the secret was cached: try once more with a
        # fresh copy, but only if it differs (an unreachable server would fail the same way).
        fresh = dsn_from_secret(
            settings.database_secret_id, max_age=settings.secrets_max_age_s, force_fetch=True
        )
        if fresh == dsn:
            raise
        return _open(fresh, settings)


def _open(dsn: str, settings: Settings) -> Connection:
    try:
        return psycopg.connect(
            dsn,
            autocommit=True,
            prepare_threshold=None,
            row_factory=dict_row,
            connect_timeout=settings.db_connect_timeout_s,
            application_name=settings.service_name,
        )
    except psycopg.Error as exc:
        # libpq names the host and the reason (refused, timeout, authentication) but never the
        # password; a parse error of the connection string may quote it, so that one stays out.
        reason = str(exc) if isinstance(exc, psycopg.OperationalError) else "malformed connection string"
        logger.warning(
            "database connection failed", extra={"error_type": type(exc).__name__, "reason": reason}
        )
        raise ServiceUnavailable("the database is unavailable", code="database_unavailable") from None


def _usable_connection() -> Connection:
    global _connection  # noqa: PLW0603  # the one connection of this container
    if _connection is not None and (_connection.closed or _connection.broken or not _idle(_connection)):
        # A transaction left open (a rollback that failed) must not lend its state to the next.
        _discard()
    if _connection is None:
        _connection = _connect(get_settings())
    return _connection


def _discard() -> None:
    global _connection  # noqa: PLW0603
    if _connection is not None:
        _connection.close()
    _connection = None


@after_restore
def reset_connection() -> None:
    """Close and forget the container's connection; the next transaction opens a new one.

    Registered as a SnapStart after-restore hook: a restored container must not reuse the socket
    of the container that took the snapshot.
    """
    with _lock:
        _discard()


def _idle(conn: Connection) -> bool:
    """Outside any transaction, as libpq last heard from the server (no round trip)."""
    return conn.info.transaction_status == pq.TransactionStatus.IDLE


def _roll_back(conn: Connection) -> None:
    """End the failed transaction, where there is one to end: the error that failed it is what
    the caller hears, not an error of the rollback (a lost connection is discarded anyway)."""
    if conn.closed or conn.broken or _idle(conn):
        return
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error as exc:
        logger.warning("rollback failed", extra={"error_type": type(exc).__name__})


def _bound(conn: Connection, statements: Sequence[Statement]) -> list[str]:
    binder = psycopg.ClientCursor(conn)
    return [binder.mogrify(statement.query, statement.params) for statement in statements]


def _results(cursor: psycopg.Cursor[DictRow], *, skip: int, count: int) -> list[Rows]:
    """The rows of each of the ``count`` results of a simple query that follow its first ``skip``
    (none for a statement that returns no rows)."""
    for _ in range(skip):
        cursor.nextset()
    rows: list[Rows] = []
    for index in range(count):
        if index:
            cursor.nextset()
        rows.append(cursor.fetchall() if cursor.description is not None else [])
    return rows


def execute_batch(conn: Connection, statements: Sequence[Statement]) -> list[Rows]:
    """``statements`` in the transaction ``conn`` is in, in one round trip; the rows of each.

    A statement that fails stops the rest, and the error is raised as `execute` raises it.
    """
    if not statements:
        return []
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute("; ".join(_bound(conn, statements)))
        return _results(cursor, skip=0, count=len(statements))


def _unavailable(exc: psycopg.Error) -> ServiceUnavailable:
    logger.warning(
        "database connection lost", extra={"error_type": type(exc).__name__, "sqlstate": exc.sqlstate}
    )
    return ServiceUnavailable("the database is unavailable", code="database_unavailable")


@contextmanager
def tenant_transaction(user_id: str) -> Iterator[Connection]:
    """One transaction on behalf of ``user_id``: row-level security shows and accepts only its rows.

    Commits when the block ends, rolls back when it raises. Rows come back as dicts.
    """
    if not user_id:
        raise Unauthorized("no caller identity", code="identity_missing")
    with _transaction(user_id) as conn:
        yield conn


@contextmanager
def system_transaction() -> Iterator[Connection]:
    """One transaction with no caller: user rows are invisible; registries and functions remain."""
    with _transaction("") as conn:
        yield conn


@contextmanager
def tenant_batch(user_id: str, statements: Sequence[Statement]) -> Iterator[tuple[Connection, list[Rows]]]:
    """A transaction of ``user_id`` that opens with ``statements``, sent with its BEGIN in one round
    trip; the block goes on in it with their rows. Commits when the block ends, rolls back when it
    raises."""
    if not user_id:
        raise Unauthorized("no caller identity", code="identity_missing")
    with _opened(user_id, statements, commit=False) as opened:
        yield opened


def tenant_statements(user_id: str, statements: Sequence[Statement]) -> list[Rows]:
    """``statements`` as one transaction of ``user_id`` in one round trip (BEGIN, the caller, them,
    COMMIT); the rows of each.

    Like every transaction, it is sent again once on a new connection when the container's
    connection turns out lost; here that may happen after the server committed, so each statement
    must be safe to repeat (a read, an update to fixed values).
    """
    if not user_id:
        raise Unauthorized("no caller identity", code="identity_missing")
    with _opened(user_id, statements, commit=True) as (_, rows):
        return rows


_SPAN_ATTRIBUTES = {"db.system.name": "postgresql"}


@contextmanager
def _transaction(user_id: str) -> Iterator[Connection]:
    with _opened(user_id, (), commit=False) as (conn, _):
        yield conn


@contextmanager
def _opened(
    user_id: str, statements: Sequence[Statement], *, commit: bool
) -> Iterator[tuple[Connection, list[Rows]]]:
    if getattr(_local, "active", False):
        # A nested transaction would be a savepoint sharing the outer caller: never what is meant.
        raise RuntimeError("a database transaction is already open in this thread")
    timeout = str(get_settings().db_statement_timeout_ms)
    with _lock, tracing.span("db transaction", kind=tracing.SpanKind.CLIENT, attributes=_SPAN_ATTRIBUTES):
        _local.active = True
        try:
            yield from _attempts(user_id, timeout, statements, commit=commit)
        finally:
            _local.active = False


def _begin(
    conn: Connection, user_id: str, timeout: str, statements: Sequence[Statement], *, commit: bool
) -> list[Rows]:
    """BEGIN with the caller, then ``statements`` (and COMMIT), in one simple query."""
    begin = _BEGIN_AS.format(sql.Literal(user_id), sql.Literal(timeout)).as_string(conn)
    parts = [begin, *_bound(conn, statements), *(["COMMIT"] if commit else [])]
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute("; ".join(parts))
        return _results(cursor, skip=2, count=len(statements))


def _attempts(
    user_id: str, timeout: str, statements: Sequence[Statement], *, commit: bool
) -> Iterator[tuple[Connection, list[Rows]]]:
    for attempt in (1, 2):
        conn = _usable_connection()
        started = False
        try:
            try:
                rows = _begin(conn, user_id, timeout, statements, commit=commit)
                started = True
                yield conn, rows
            except BaseException:
                _roll_back(conn)
                raise
            if not commit:
                conn.execute("COMMIT")
            return
        except psycopg.OperationalError as exc:
            lost = conn.closed or conn.broken
            if lost:
                _discard()
            # The server may have closed the connection while the container was idle: retry once
            # on a new connection, but only before the caller's block has run.
            if lost and not started and attempt == 1:
                continue
            if lost:
                raise _unavailable(exc) from None
            if isinstance(exc, pg_errors.QueryCanceled):
                raise ServiceUnavailable(
                    "the database did not answer in time", code="database_timeout"
                ) from exc
            raise
