"""Session fixtures of the whole suite: one throwaway Postgres, migrated and seeded; one Prefect
server, started in the background for the tests that need it.

The `database` fixture starts an embedded server under `.data/test-pg-<pid>` (one per pytest
process, so xdist workers do not collide) and deletes it at the end. When the developer sets
`DATABASE_URL` it must be a superuser's URL of a development server: a database
`auralink_test_<random>` is created there instead and dropped at the end.

While it is active, `DATABASE_URL` in the environment is the application role's DSN, which is
what the code under test connects with. The owner is subject to row-level security as well
(FORCE): to read tenant rows through `owner_conn`, set `app.current_user_id` in a transaction.
Tests share the database: give each test its own user ids (`make_user_id`).

The `prefect_server` fixture is a Prefect server of `.venv-prefect` on a free loopback port, its
data in a temporary folder, stopped and deleted at the end. It takes 10 to 25 s to load, so it is
started as soon as the collected tests are known, when one of them needs it, and only those tests
wait for it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from psycopg.rows import DictRow, dict_row

from auralink import tracing
from auralink.db import reset_connection
from auralink.db.migrate import apply_migrations
from auralink.observability import logger
from auralink.settings import reset_settings
from auralink.tracing_recorder import FinishedSpan
from infra.local.postgres import LocalDatabase, attach_postgres, discard_server, start_local_postgres
from infra.local.prefect_server import LocalPrefectServer
from tests.support import environment

ROOT = Path(__file__).resolve().parents[1]

# Read once at import, before any test (or the fixture itself) changes the environment.
_ADMIN_URL = os.environ.get("DATABASE_URL")
# Prefect's client, imported by the tests, reports to Prefect's analytics unless told not to.
os.environ["DO_NOT_TRACK"] = "1"
_PREFECT_SERVER = pytest.StashKey[LocalPrefectServer]()
# The server loads in 10 to 25 s on an idle machine; a busy one, running the suite, takes longer.
_PREFECT_READY_S = 180


def _discard_abandoned_servers() -> None:
    # A test process that was killed (a timeout, a second Ctrl-C) leaves its server running.
    for data_dir in (ROOT / ".data").glob("test-pg-*"):
        pid = data_dir.name.removeprefix("test-pg-")
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            discard_server(data_dir)


def _start() -> LocalDatabase:
    _discard_abandoned_servers()
    if _ADMIN_URL:
        name = f"auralink_test_{secrets.token_hex(4)}"
        return attach_postgres(_ADMIN_URL, database=name, throwaway=True)
    return start_local_postgres(ROOT / ".data" / f"test-pg-{os.getpid()}", throwaway=True)


@pytest.fixture(scope="session", autouse=True)
def aws_endpoints() -> None:
    """The service calls AWS over HTTP: moto's server, for every test of this process (its state
    is `mock_aws`'s, so what a test creates through `mock_aws` is what the service finds)."""
    environment.point_at_moto()


@pytest.fixture(scope="session")
def database() -> Iterator[LocalDatabase]:
    db = _start()
    previous = os.environ.get("DATABASE_URL")
    try:
        apply_migrations(db.owner_dsn, app_dsn=db.app_dsn)
        os.environ["DATABASE_URL"] = db.app_dsn
        reset_settings()
        yield db
    finally:
        reset_connection()
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        reset_settings()
        db.stop()


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected what does not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Under xdist a worker starts it when its first test asks for it: it cannot know which
    # tests it will be given.
    needs = any("prefect_server" in getattr(item, "fixturenames", ()) for item in items)
    if needs and os.environ.get("PYTEST_XDIST_WORKER") is None:
        _session_prefect_server(config)


# Under xdist (`make test` runs two workers) these folders' tests stay on one worker each, so that
# what they share (the build of the layers; the Prefect server) is made once; any other module's
# tests stay together for their module's fixtures.
_ONE_WORKER_FOLDERS = ("tests/packaging/", "tests/integration/pipelines/")


def _scope(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    return next((folder for folder in _ONE_WORKER_FOLDERS if module.startswith(folder)), module)


class _ByScope:
    """xdist's scheduler by `_scope` (its own grouping by mark, loadgroup, rewrites node ids that
    pytest 9 no longer reads)."""

    @staticmethod
    def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
        from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415  # only when distributing

        class ByScope(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return _scope(nodeid)

        return ByScope(config, log)


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_ByScope(), "auralink-by-scope")


def _session_prefect_server(config: pytest.Config) -> LocalPrefectServer:
    """The session's Prefect server, started (not awaited) on first call and stopped at the end."""
    server = config.stash.get(_PREFECT_SERVER, None)
    if server is None:
        data_dir = Path(tempfile.mkdtemp(prefix="auralink-prefect-"))
        server = LocalPrefectServer(ROOT, data_dir, port=0)

        def stop() -> None:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)

        config.add_cleanup(stop)
        server.start()
        config.stash[_PREFECT_SERVER] = server
    return server


@pytest.fixture(scope="session")
def prefect_server(pytestconfig: pytest.Config) -> LocalPrefectServer:
    """The session's Prefect server, once it answers (`api_url` is what PREFECT_API_URL names)."""
    server = _session_prefect_server(pytestconfig)
    server.wait_until_ready(timeout=_PREFECT_READY_S)
    return server


@pytest.fixture(scope="session")
def external_server() -> bool:
    """True when the suite runs on the developer's server (DATABASE_URL) rather than an embedded one."""
    return bool(_ADMIN_URL)


@pytest.fixture(scope="session")
def admin_dsn(database: LocalDatabase) -> str:
    return database.admin_dsn


@pytest.fixture(scope="session")
def owner_dsn(database: LocalDatabase) -> str:
    return database.owner_dsn


@pytest.fixture(scope="session")
def app_dsn(database: LocalDatabase) -> str:
    return database.app_dsn


@pytest.fixture(scope="session")
def owner_conn(database: LocalDatabase) -> Iterator[psycopg.Connection[DictRow]]:
    """An autocommit connection as the schema owner (rows as dicts)."""
    with psycopg.connect(database.owner_dsn, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture(scope="session")
def admin_conn(database: LocalDatabase) -> Iterator[psycopg.Connection[DictRow]]:
    """An autocommit superuser connection to the server's maintenance database."""
    with psycopg.connect(database.admin_dsn, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def service_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A service function's environment (no database, no AWS endpoint); caches dropped before and after."""
    environment.apply(monkeypatch)
    yield monkeypatch
    environment.forget_caches()


@pytest.fixture
def make_user_id() -> Callable[[str], str]:
    """Fresh user ids (JWT subjects) so that tests sharing the database never see each other's rows."""

    def make(label: str = "user") -> str:
        return f"{label}-{uuid.uuid4().hex[:12]}"

    return make


class SpanRecorder:
    """An exporter that keeps finished spans in memory, only while a test asks for them."""

    def __init__(self) -> None:
        self.recording = False
        self._finished: list[FinishedSpan] = []
        self._lock = threading.Lock()

    def export(self, finished: FinishedSpan) -> None:
        if self.recording:
            with self._lock:
                self._finished.append(finished)

    def force_flush(self) -> None:
        """Nothing is held back: a span is kept as it ends."""

    def get_finished_spans(self) -> tuple[FinishedSpan, ...]:
        with self._lock:
            return tuple(self._finished)

    def clear(self) -> None:
        with self._lock:
            self._finished.clear()


_RECORDERS: list[SpanRecorder] = []


@pytest.fixture
def spans() -> Iterator[SpanRecorder]:
    """The spans that this process's handlers record during the test (beside the configured
    exporter: a process installs the tracing provider once, and the recorder with it)."""
    if not _RECORDERS:
        _RECORDERS.append(SpanRecorder())
        tracing.install(_RECORDERS[0])
    recorder = _RECORDERS[0]
    recorder.clear()
    recorder.recording = True
    try:
        yield recorder
    finally:
        recorder.recording = False
        recorder.clear()


@pytest.fixture(autouse=True)
def _no_correlation_id_left_over() -> Iterator[None]:
    """A handler invoked in-process leaves its request id on the one logger (in Lambda, the next
    invocation replaces it): the next test must not answer with it."""
    yield
    logger.set_correlation_id(None)
