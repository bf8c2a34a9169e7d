"""The local runtime, started once for the HTTP tests of a module, against the suite's database.

The runtime sets the process environment its handlers read (as Lambda would set a container's),
so it lives for one module only: the environment is restored before unrelated tests run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from infra.local.postgres import LocalDatabase
from infra.local.runtime import LocalRuntime

ROOT = Path(__file__).resolve().parents[2]


def runtime_database_url(database: LocalDatabase) -> str:
    """The suite's server, as its administrator, naming the suite's database."""
    return make_conninfo(database.admin_dsn, dbname=str(conninfo_to_dict(database.owner_dsn)["dbname"]))


@pytest.fixture(scope="module")
def local_runtime(database: LocalDatabase) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(ROOT, port=0, database_url=runtime_database_url(database), schedules=False)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


@pytest.fixture
def api(local_runtime: LocalRuntime) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_runtime.url, timeout=30) as client:
        yield client
