"""Connections as the application role, standing for Lambda containers, and a hand-moved clock."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.rows import DictRow, dict_row

from tests.support.clock import FakeClock

AppConnection = psycopg.Connection[DictRow]


@pytest.fixture
def open_container(app_dsn: str) -> Iterator[Callable[[], AppConnection]]:
    """Opens connections as the application role, as separate containers would; closed afterwards."""
    opened: list[AppConnection] = []

    def open_one() -> AppConnection:
        conn = psycopg.connect(app_dsn, autocommit=True, row_factory=dict_row, prepare_threshold=None)
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        conn.close()


@contextmanager
def _transaction(conn: AppConnection, user_id: str = "") -> Iterator[AppConnection]:
    with conn.transaction():
        conn.execute("SELECT set_config('app.current_user_id', %s, true)", (user_id,))
        yield conn


@pytest.fixture
def transaction() -> Callable[..., contextlib.AbstractContextManager[AppConnection]]:
    """``transaction(conn, user_id)``: one transaction carrying the caller, like `tenant_transaction`."""
    return _transaction


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC))


@pytest.fixture
def server_name() -> str:
    return f"srv-{uuid.uuid4().hex[:10]}"
