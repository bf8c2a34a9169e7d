"""The Prefect server of the local runtime and of the tests: it answers Prefect's REST API, serves its
UI, holds its port from the start, and stops with everything it started."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest
from prefect import flow
from prefect.client.orchestration import SyncPrefectClient

from infra.local.prefect_server import LocalPrefectServer, PrefectServerError

ROOT = Path(__file__).resolve().parents[3]


def _server_pin() -> str:
    lock = (ROOT / "requirements" / "prefect-server.lock").read_text()
    (pin,) = [line.split("==")[1] for line in lock.splitlines() if line.startswith("prefect==")]
    return pin


@flow(name="auralink-server-check")
def _pipeline(count: int) -> int:
    return count


def test_the_session_server_keeps_flows_and_flow_runs_that_the_client_creates(
    prefect_server: LocalPrefectServer,
) -> None:
    marker = f"auralink-run:{uuid.uuid4()}"

    with SyncPrefectClient(prefect_server.api_url) as client:
        flow_id = client.create_flow_from_name("auralink-server-check")
        created = client.create_flow_run(_pipeline, parameters={"count": 3}, tags=[marker, "auralink"])
        read = client.read_flow_run(created.id)
        flow_read = client.read_flow(flow_id)

    assert flow_read.name == "auralink-server-check"
    assert read.flow_id == flow_id == created.flow_id
    assert read.parameters == {"count": 3}
    assert set(read.tags) == {marker, "auralink"}
    assert read.state is not None and read.state.type.value == "PENDING"

    # The same records over Prefect's REST API, as an operator's script or the UI reads them.
    with httpx.Client(base_url=prefect_server.api_url, timeout=10) as api:
        by_id = api.get(f"/flow_runs/{created.id}").json()
        by_tag = api.post("/flow_runs/filter", json={"flow_runs": {"tags": {"all_": [marker]}}}).json()
    assert (by_id["id"], by_id["flow_id"], by_id["state_type"]) == (str(created.id), str(flow_id), "PENDING")
    assert [run["id"] for run in by_tag] == [str(created.id)]


def test_the_session_server_is_the_pinned_version_with_its_ui(prefect_server: LocalPrefectServer) -> None:
    import prefect  # noqa: PLC0415

    version = httpx.get(f"{prefect_server.api_url}/admin/version", timeout=10).json()
    ui = httpx.get(prefect_server.url, timeout=10)

    assert version == _server_pin()
    # The layer's client speaks to a server of its own minor version.
    assert version.split(".")[:2] == prefect.__version__.split(".")[:2]
    assert ui.status_code == 200 and ui.headers["content-type"].startswith("text/html")
    assert prefect_server.state() == "ok"


def test_a_server_holds_its_port_from_the_start_then_stops_with_all_it_started(tmp_path: Path) -> None:
    # Given a port that something else listens on
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        wanted = taken.getsockname()[1]
        server = LocalPrefectServer(ROOT, tmp_path / "prefect", port=wanted)

        # When the server starts there, it takes another port, which listens at once
        server.start()
        try:
            assert server.port not in (None, wanted)
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                pass
            assert server.state(timeout=0.5) == "starting"
            process = psutil.Process(int((tmp_path / "prefect" / "server.pid").read_text().split()[0]))
            assert "prefect_serve.py" in " ".join(process.cmdline())
        finally:
            server.stop()

    # Then stopping it ends its process, frees its port and forgets its pid file
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    assert server.state() == "unavailable"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    assert not (tmp_path / "prefect" / "server.pid").exists()
    server.stop()  # a second stop is harmless


def _pretend_server() -> subprocess.Popen[bytes]:
    """A process whose command line names the server's script, as a server left running would.

    Returned once its command line says so: until the child has exec'd, it shows the parent's."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "prefect_serve.py"])
    deadline = time.monotonic() + 10
    while "prefect_serve.py" not in " ".join(psutil.Process(process.pid).cmdline()):
        assert time.monotonic() < deadline, "the pretend server did not start"
        time.sleep(0.01)
    return process


def test_a_server_left_running_by_a_dead_runtime_is_stopped_first(tmp_path: Path) -> None:
    data_dir = tmp_path / "prefect"
    data_dir.mkdir()
    left = _pretend_server()
    dead_runtime = subprocess.Popen([sys.executable, "-c", ""])
    dead_runtime.wait()
    (data_dir / "server.pid").write_text(f"{left.pid} {dead_runtime.pid}\n")
    server = LocalPrefectServer(ROOT, data_dir, port=0)

    try:
        server.start()
        assert left.wait(timeout=15) is not None
    finally:
        server.stop()
        left.kill()


def test_a_data_folder_in_use_by_a_live_runtime_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "prefect"
    data_dir.mkdir()
    other_server, other_runtime = _pretend_server(), _pretend_server()
    (data_dir / "server.pid").write_text(f"{other_server.pid} {other_runtime.pid}\n")
    try:
        with pytest.raises(PrefectServerError, match="LOCAL_PREFECT_DIR"):
            LocalPrefectServer(ROOT, data_dir, port=0).start()
        assert other_server.poll() is None
    finally:
        for process in (other_server, other_runtime):
            process.kill()
            process.wait()


def test_without_its_environment_the_server_names_the_make_target(tmp_path: Path) -> None:
    with pytest.raises(PrefectServerError, match="make prefect-venv"):
        LocalPrefectServer(tmp_path, tmp_path / "prefect").start()
