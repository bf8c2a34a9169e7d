"""`python -m infra.local` (what `make dev` runs) as a process: it serves, refuses a taken port, and
on SIGINT stops everything it started, the embedded Postgres included."""

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

from infra.local.token import PROJECT_ROOT

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


def start_dev(port: int, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    environment = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    environment.update(PORT=str(port), LOCAL_POSTGRES_DIR=str(data_dir), PYTHONUNBUFFERED="1")
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


def test_dev_command_serves_then_stops_everything_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Inside the project (the embedded server runs as its own system user, which cannot enter /tmp/pytest-*).
    data_dir = PROJECT_ROOT / ".data" / f"e2e-dev-{os.getpid()}"
    process = start_dev(port, data_dir, tmp_path / "dev.log")
    try:
        wait_until_healthy(url, process, tmp_path / "dev.log")
        started = psutil.Process(process.pid).children(recursive=True) + postgres_of(data_dir)
        assert postgres_of(data_dir), "the embedded Postgres should be running"

        second = start_dev(port, tmp_path / "unused", tmp_path / "second.log")
        assert second.wait(timeout=60) == 1
        assert f"port {port} is already in use" in (tmp_path / "second.log").read_text()

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0

        output = (tmp_path / "dev.log").read_text()
        assert f"running at {url}" in output
        assert "make token SUB=alice" in output
        assert not postgres_of(data_dir)
        assert not [leftover for leftover in started if alive(leftover)]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
