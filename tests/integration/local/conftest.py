"""A local runtime on the suite's database for the tests of one module (it sets the process
environment its handlers read, so it never outlives the module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from infra.local.postgres import LocalDatabase
from infra.local.runtime import LocalRuntime
from infra.local.token import PROJECT_ROOT


@pytest.fixture(scope="module")
def local_runtime(database: LocalDatabase) -> Iterator[LocalRuntime]:
    # The suite's server as its administrator, naming the suite's database.
    url = make_conninfo(database.admin_dsn, dbname=str(conninfo_to_dict(database.owner_dsn)["dbname"]))
    runtime = LocalRuntime(PROJECT_ROOT, port=0, database_url=url, schedules=False)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()
