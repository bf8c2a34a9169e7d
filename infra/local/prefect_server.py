"""A Prefect server on loopback, started in the background: the Prefect API of local pipelines.

`LocalPrefectServer.start()` binds the port (4200 unless taken, then any free one), then starts
the server with its own interpreter (`.venv-prefect`, made by `make prefect-venv`) on that socket
and returns at once: the server takes 8 to 25 s to load and migrate its database, and nothing
waits for it unless it needs it (`wait_until_ready`). Because the socket listens from the start,
a client that connects early waits for the first answer instead of being refused, and a health
check that gets no answer in time knows the server is starting.

Its data (the SQLite database, Prefect's home) lives in the folder it is given, and its output
goes to `server.log` there. Analytics are off. `stop()` ends the server and everything it started.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Literal

import httpx
import psutil

log = logging.getLogger("infra.local.prefect")

DEFAULT_PORT = 4200
# Where `make prefect-venv` puts the server's environment, relative to the repository.
VIRTUALENV = ".venv-prefect"
MAKE_TARGET = "prefect-venv"
_SERVE_SCRIPT = Path(__file__).with_name("prefect_serve.py")
_LISTEN_BACKLOG = 128
_STOP_GRACE_S = 10.0

PrefectServerState = Literal["ok", "starting", "unavailable"]


class PrefectServerError(RuntimeError):
    """The server cannot start, or stopped, or did not become ready in time."""


class LocalPrefectServer:
    """One Prefect server process with its data in ``data_dir``, on ``host``:``port``."""

    def __init__(
        self,
        root: Path,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        fallback_to_free_port: bool = True,
    ) -> None:
        self.python = root.resolve() / VIRTUALENV / "bin" / "python"
        self.data_dir = data_dir.resolve()
        self.host = host
        self._wanted_port = port
        self._fallback = fallback_to_free_port
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._ready = threading.Event()
        self._watcher: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        """The server's root: its UI."""
        if self.port is None:
            raise PrefectServerError("the Prefect server is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """What PREFECT_API_URL names: the REST API under /api."""
        return f"{self.url}/api"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "server.pid"

    def start(self) -> None:
        """Bind the port and start the server in the background; it is ready later."""
        if self._process is not None:
            raise PrefectServerError("the Prefect server is already started")
        if not self.python.exists():
            raise PrefectServerError(
                f"the Prefect server's environment is missing ({VIRTUALENV}): run `make {MAKE_TARGET}`"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        leftover = _left_running(self._pid_file)
        if leftover is not None:
            # A runtime that was killed leaves its server behind: two servers on one SQLite file
            # would corrupt it, and the old one would hold the port.
            log.warning("stopping the Prefect server (pid %d) that an earlier run left running", leftover.pid)
            _terminate(leftover.pid)
        listening = self._bind()
        try:
            with self.log_path.open("wb") as output:
                self._process = subprocess.Popen(  # noqa: S603  # our own interpreter and script
                    [str(self.python), "-I", str(_SERVE_SCRIPT), str(listening.fileno())],
                    env=self._environment(),
                    cwd=self.data_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    pass_fds=(listening.fileno(),),
                    # A session of its own: a Ctrl-C in the terminal reaches the runtime only,
                    # which stops the server in its turn.
                    start_new_session=True,
                )
        finally:
            # The server holds the socket now; a copy here would keep the port open after it died.
            listening.close()
        self._pid_file.write_text(f"{self._process.pid} {os.getpid()}\n")
        self._started_at = time.monotonic()
        self._watcher = threading.Thread(target=self._watch, name="prefect-server-watch", daemon=True)
        self._watcher.start()
        log.info(
            "Prefect server starting at %s (UI; API at %s), log %s", self.url, self.api_url, self.log_path
        )

    def _bind(self) -> socket.socket:
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # The connections of a previous run linger in TIME_WAIT: they must not take 4200 away.
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listening.bind((self.host, self._wanted_port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or not self._fallback or self._wanted_port == 0:
                listening.close()
                raise
            listening.bind((self.host, 0))
            log.warning(
                "port %d is taken: the Prefect server uses port %d instead",
                self._wanted_port,
                listening.getsockname()[1],
            )
        listening.listen(_LISTEN_BACKLOG)
        listening.set_inheritable(True)
        self.port = int(listening.getsockname()[1])
        return listening

    def _environment(self) -> dict[str, str]:
        # Nothing of the caller's Prefect configuration (a profile, a Cloud workspace) reaches it.
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("PREFECT_") and name not in {"PYTHONPATH", "VIRTUAL_ENV"}
        }
        return {
            **inherited,
            "PREFECT_HOME": str(self.data_dir),
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{self.data_dir / 'prefect.db'}",
            # The UI calls the API at this address; the server's own host and port say the same.
            "PREFECT_UI_API_URL": self.api_url,
            "PREFECT_SERVER_API_HOST": self.host,
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_SERVER_UI_ENABLED": "true",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        }

    def _watch(self) -> None:
        """Log when the server is ready, or that it stopped before it was."""
        while not self._stopping.is_set():
            process = self._process
            if process is None or process.poll() is not None:
                if not self._stopping.is_set():
                    log.error("the Prefect server exited before it was ready; see %s", self.log_path)
                return
            if self.state(timeout=1.0) == "ok":
                self._ready.set()
                log.info("Prefect server ready in %.1f s", time.monotonic() - self._started_at)
                return
            self._stopping.wait(0.5)

    def state(self, *, timeout: float = 1.0) -> PrefectServerState:
        """ok (it answers), starting (it runs and has not answered yet) or unavailable."""
        if self._process is None or self._process.poll() is not None:
            return "unavailable"
        try:
            answer = httpx.get(f"{self.api_url}/health", timeout=httpx.Timeout(timeout, connect=timeout))
        except httpx.TimeoutException:
            return "starting"
        except httpx.HTTPError:
            return "unavailable"
        try:
            healthy = answer.status_code == 200 and answer.json() is True
        except ValueError:
            healthy = False
        return "ok" if healthy else "starting"

    def wait_until_ready(self, timeout: float = 120.0) -> None:
        """Block until the server answers; raise, with the end of its log, if it stops or takes
        longer than ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if self._process is None or self._process.poll() is not None:
                raise PrefectServerError(f"the Prefect server is not running:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                raise PrefectServerError(f"the Prefect server was not ready within {timeout:.0f} s")

    def stop(self) -> None:
        """End the server and whatever it started: SIGTERM, then SIGKILL after a grace period.
        Safe to call twice."""
        self._stopping.set()
        process, self._process = self._process, None
        if process is not None:
            _terminate(process.pid)
            process.wait()
            self._pid_file.unlink(missing_ok=True)
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    def _log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _terminate(pid: int) -> None:
    try:
        leader = psutil.Process(pid)
        group = [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in group:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(group, timeout=_STOP_GRACE_S)
    if alive:
        log.warning("the Prefect server did not stop within %.0f s: killing it", _STOP_GRACE_S)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=5)


def _left_running(pid_file: Path) -> psutil.Process | None:
    """The server that ``pid_file`` names, if it still runs; an error if its starter runs too."""
    try:
        server_pid, starter_pid = (int(word) for word in pid_file.read_text().split())
        server = psutil.Process(server_pid)
        command = " ".join(server.cmdline())
    except (OSError, ValueError, psutil.Error):
        return None
    if _SERVE_SCRIPT.name not in command:
        return None
    if starter_pid != os.getpid() and psutil.pid_exists(starter_pid):
        raise PrefectServerError(
            f"{pid_file.parent} is the data folder of the Prefect server of another running process"
            f" (pid {starter_pid}): stop it, or give this one another folder (LOCAL_PREFECT_DIR)"
        )
    return server
