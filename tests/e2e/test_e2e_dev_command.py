"""`python -m infra.local` (what `make dev` runs) as a process: it serves without waiting for its
Prefect server, which /health shows starting then ready, refuses a taken port, and on SIGINT stops
everything it started, the embedded Postgres and the Prefect server included."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from infra.local.token import PROJECT_ROOT, mint_dev_token

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def postgres_of(data_dir: Path) -> list[psutil.Process]:
    """The postmaster serving ``data_dir`` and its backends."""
    postmasters = [
        process
        for process in psutil.process_iter(["cmdline"])
        if str(data_dir) in " ".join(process.info["cmdline"] or []) and alive(process)
    ]
    return postmasters + [child for process in postmasters for child in process.children(recursive=True)]


def start_dev(port: int, data_dir: Path, log: Path, prefect_dir: Path) -> subprocess.Popen[bytes]:
    environment = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    environment.update(
        PORT=str(port),
        LOCAL_POSTGRES_DIR=str(data_dir),
        LOCAL_PREFECT_DIR=str(prefect_dir),
        PYTHONUNBUFFERED="1",
    )
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "infra.local"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the runtime exited early:\n{log.read_text()}"
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no healthy answer within 60 s:\n{log.read_text()}")


def prefect_state(url: str) -> str:
    token = mint_dev_token("e2e-dev-command")
    answer = httpx.get(f"{url}/health", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200
    return str(answer.json()["details"]["prefect"]["status"])


def wait_until_prefect_is_ready(url: str, log: Path) -> list[str]:
    """The states /health shows until Prefect's is ok."""
    seen: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        seen.append(prefect_state(url))
        if seen[-1] == "ok":
            return seen
        time.sleep(1)
    raise AssertionError(f"Prefect was not ready within 180 s ({seen}):\n{log.read_text()}")


def test_dev_command_serves_then_stops_everything_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Inside the project (the embedded server runs as its own system user, which cannot enter /tmp/pytest-*).
    data_dir = PROJECT_ROOT / ".data" / f"e2e-dev-{os.getpid()}"
    prefect_dir = tmp_path / "prefect"
    process = start_dev(port, data_dir, tmp_path / "dev.log", prefect_dir)
    try:
        wait_until_healthy(url, process, tmp_path / "dev.log")
        started = psutil.Process(process.pid).children(recursive=True) + postgres_of(data_dir)
        assert postgres_of(data_dir), "the embedded Postgres should be running"
        assert [child for child in started if "prefect_serve.py" in " ".join(child.cmdline())]

        # The API answered before its Prefect server was ready, and /health follows it.
        states = wait_until_prefect_is_ready(url, tmp_path / "dev.log")
        assert set(states) <= {"starting", "ok"} and states[-1] == "ok"
        assert (prefect_dir / "prefect.db").is_file()

        second = start_dev(port, tmp_path / "unused", tmp_path / "second.log", tmp_path / "unused-prefect")
        assert second.wait(timeout=60) == 1
        assert f"port {port} is already in use" in (tmp_path / "second.log").read_text()

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0

        output = (tmp_path / "dev.log").read_text()
        assert f"running at {url}" in output
        assert "make token SUB=alice" in output
        assert "Prefect:  http://127.0.0.1:" in output and "Prefect server ready in" in output
        assert not postgres_of(data_dir)
        assert not [leftover for leftover in started if alive(leftover)]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
