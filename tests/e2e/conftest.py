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
from tests.support.doc_examples import DOCS_TIMES

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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """How long the guides' shell examples took (tests/e2e/test_docs_examples.py)."""
    times = config.stash.get(DOCS_TIMES, None)
    if times:
        each = ", ".join(f"{name} {seconds:.1f} s" for name, seconds, _, _ in times)
        ran, skipped = sum(item[2] for item in times), sum(item[3] for item in times)
        total = sum(item[1] for item in times)
        terminalreporter.write_line(
            f"guides' shell examples: {ran} blocks run, {skipped} skipped, {total:.1f} s ({each})"
        )
