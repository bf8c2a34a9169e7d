"""The runtime's own lifecycle: a start that fails half-way leaves nothing behind."""

from __future__ import annotations

import os
import socket
import threading

import psycopg
import pytest

from infra.local.apigw import Gateway, LocalApiServer
from infra.local.routes import RouteTable
from infra.local.runtime import LocalRuntime
from infra.local.token import PROJECT_ROOT


def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_failed_start_releases_the_port_and_restores_the_environment() -> None:
    before = dict(os.environ)
    unreachable = f"postgresql://nobody@127.0.0.1:{refused_port()}/auralink?connect_timeout=2"
    runtime = LocalRuntime(PROJECT_ROOT, port=0, database_url=unreachable, schedules=False)

    with pytest.raises(psycopg.OperationalError):
        runtime.start()

    assert dict(os.environ) == before
    with pytest.raises(RuntimeError):
        _ = runtime.url
    serving = {thread.name for thread in threading.enumerate()}
    assert not serving & {"local-api", "local-aws"}


def test_a_bound_server_that_never_served_stops_at_once() -> None:
    server = LocalApiServer(Gateway(RouteTable([]), lambda *_: None, lambda _: {}), port=0)
    server.bind()
    port = server.port

    server.stop()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # free again
