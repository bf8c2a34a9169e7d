"""Execution environments: one process per environment, one invocation at a time.

An `Environment` is a process running `infra.local.bootstrap` for one function. It is created by a
launcher (a cold start: the handler's module is imported, and the init time is reported), then
serves invocations one after the other. This side enforces what Lambda enforces from outside the
sandbox: the function's timeout (`Sandbox.Timedout`) and memory size (`Runtime.OutOfMemory`), by
killing the process; an environment that was killed, or whose process died, is never used again.

Two launchers:
- `ForkLauncher` forks environments from a template process that has imported the heavy
  third-party libraries once, so that a cold start costs the function's own
  initialisation rather than a second or two of library imports;
- `InterpreterLauncher` starts a fresh interpreter per environment with only the function's code
  folder and the given folders on its path: with no site-packages, what a built artifact sees;
  with a virtualenv's interpreter and its site-packages, what an image function's image holds.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn, Protocol

import psutil

from infra.local import bootstrap

log = logging.getLogger("infra.local.environments")

# Imported once by the template process; each must be free of per-function state at import.
PRELOADED_MODULES = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "opentelemetry.propagate",
    "opentelemetry.trace",
    "boto3",
    "cryptography.hazmat.primitives.ciphers.aead",
    "httpx",
    "jsonschema",
    "jwt",
    "mcp",
    "mcp.server.lowlevel",
    "mcp.server.streamable_http_manager",
    "psycopg",
    "pydantic",
    "yaml",
)
# How often the memory of a working environment is sampled.
MEMORY_SAMPLE_S = 0.05
# Lambda's limit on the init phase; an init that runs longer is finished within the invocation.
INIT_LIMIT_S = 10


class FunctionError(Exception):
    """The invocation failed: ``payload`` is what Lambda reports (errorType, errorMessage, ...)."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = dict(payload)

    @property
    def error_type(self) -> str:
        return str(self.payload.get("errorType") or "Unhandled")


@dataclass(frozen=True)
class EnvironmentSpec:
    """What an environment of one function is made of."""

    function_id: str
    task_root: Path  # the function's code folder
    handler: str  # module.function
    environment: Mapping[str, str]  # the process's variables, complete
    timeout_s: int
    memory_mb: int
    setup: tuple[str, ...] = ()  # `module:function`s called once the handler is loaded
    paths: tuple[Path, ...] = ()  # after the code folder on a clean interpreter's path (layers, runtime)


class Process(Protocol):
    @property
    def pid(self) -> int: ...

    def kill(self) -> None: ...


class Launcher(Protocol):
    def launch(self, spec: EnvironmentSpec) -> tuple[Process, Connection]:
        """Start an environment's process; returns it and the parent's end of its connection."""
        ...

    def close(self) -> None: ...


class ForkLauncher:
    """Environments forked from a template process (`bootstrap.template_process`) that imported
    the heavy libraries once: a cold start then costs the function's own initialisation only."""

    def __init__(self, preload: Sequence[str] = PRELOADED_MODULES) -> None:
        self._preload = list(preload)
        self._lock = threading.Lock()
        self._control: socket.socket | None = None
        self._template: subprocess.Popen[bytes] | None = None

    def launch(self, spec: EnvironmentSpec) -> tuple[Process, Connection]:
        request = json.dumps({
            "environment": dict(spec.environment),
            "task_root": str(spec.task_root),
            "handler": spec.handler,
            "setup": list(spec.setup),
        }).encode("utf-8")  # fmt: skip
        parent_end, child_end = socket.socketpair()
        try:
            with self._lock:
                control = self._started()
                socket.send_fds(control, [request], [child_end.fileno()])
                pid = int(json.loads(control.recv(4096))["pid"])
        finally:
            child_end.close()
        return _ForkedProcess(pid), Connection(parent_end.detach())

    def close(self) -> None:
        with self._lock:
            if self._control is not None:
                self._control.close()  # the template process reads EOF and exits
                self._control = None
            if self._template is not None:
                try:
                    self._template.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._template.kill()
                self._template = None

    def _started(self) -> socket.socket:
        if self._control is not None and self._template is not None and self._template.poll() is None:
            return self._control
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        # The template process sees this process's path (the project and its layer source).
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path or os.getcwd() for path in sys.path)}
        try:
            self._template = subprocess.Popen(  # noqa: S603  # our interpreter, our bootstrap
                [
                    sys.executable,
                    "-P",
                    bootstrap.__file__,
                    "--template",
                    str(theirs.fileno()),
                    *self._preload,
                ],
                env=environment,
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        self._control = ours
        return ours


@functools.cache
def shared_fork_launcher() -> ForkLauncher:
    """One template process for every function of this process: it holds libraries, not state."""
    launcher = ForkLauncher()
    atexit.register(launcher.close)
    return launcher


class _ForkedProcess:
    """An environment forked by the template process: not our child, so it is ended by pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


class InterpreterLauncher:
    """Each environment in a fresh interpreter, with the spec's ``paths`` after the function's code
    folder: nothing of this project's virtualenv.

    Without ``site_packages`` (`-S`), the paths are all it has: the built layers, then the
    runtime's own libraries. With it, ``interpreter`` is a virtualenv's (an image function's
    environment) and its site-packages follow the paths, as the image's packages follow its
    /var/task. ``missing`` says what creates an interpreter that does not exist yet.
    """

    def __init__(self, interpreter: Path, *, site_packages: bool = False, missing: str = "") -> None:
        self._interpreter = interpreter
        self._site_packages = site_packages
        self._missing = missing

    def launch(self, spec: EnvironmentSpec) -> tuple[Process, Connection]:
        if not self._interpreter.exists():
            # What Lambda answers for an image it cannot start.
            raise FunctionError({
                "errorType": "Runtime.InvalidEntrypoint",
                "errorMessage": f"{spec.function_id}: no interpreter at {self._interpreter}. {self._missing}",
            })  # fmt: skip
        parent_socket, child_socket = socket.socketpair()
        environment = {**spec.environment, "PYTHONPATH": os.pathsep.join(map(str, spec.paths))}
        # -s: a virtualenv's own site-packages, never the user's; its bytecode is written as usual.
        flags = ["-s"] if self._site_packages else ["-S", "-B"]
        try:
            process = subprocess.Popen(  # noqa: S603  # our interpreter, our bootstrap
                [
                    str(self._interpreter),
                    *flags,
                    "-P",
                    bootstrap.__file__,
                    str(child_socket.fileno()),
                    *spec.setup,
                ],
                env=environment,
                pass_fds=(child_socket.fileno(),),
                cwd=spec.task_root,
            )
        finally:
            child_socket.close()
        return _Subprocess(process), Connection(parent_socket.detach())

    def close(self) -> None:
        """Nothing is shared between the interpreters."""


class _Subprocess:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self.pid = process.pid

    def kill(self) -> None:
        self._process.kill()
        self._process.wait(timeout=5)


def _watch(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None  # already gone (an init that fails can exit at once): reading tells why


class Environment:
    """One execution environment of one function. Not thread-safe: its pool hands it to one
    invocation at a time."""

    def __init__(self, spec: EnvironmentSpec, launcher: Launcher, number: int) -> None:
        self.spec = spec
        self.number = number
        self.created = time.monotonic()
        self.last_used = self.created
        self.invocations = 0
        self.alive = True
        self._process, self._conn = launcher.launch(spec)
        self._watched = _watch(self._process.pid)

    def initialise(self) -> float:
        """Wait for the cold start to finish; returns the init time in ms (FunctionError if it failed)."""
        message = self._receive(INIT_LIMIT_S + self.spec.timeout_s, request_id="init")
        if message["type"] == "init_error":
            self.close()
            raise FunctionError(message["error"])
        return float(message["init_ms"])

    def invoke(self, event: Any, *, request_id: str, function_arn: str) -> Any:
        """The handler's result (already JSON-decoded), or FunctionError; either way within the
        function's timeout."""
        request = json.dumps({
            "type": "invoke",
            "request_id": request_id,
            "event": event,
            "timeout_ms": self.spec.timeout_s * 1000,
            "function_arn": function_arn,
        }).encode("utf-8")  # fmt: skip
        self.invocations += 1
        try:
            self._conn.send_bytes(request)
        except OSError:
            self._exited(request_id)
        try:
            message = self._receive(self.spec.timeout_s, request_id=request_id)
        finally:
            self.last_used = time.monotonic()
        if message["type"] == "error":
            raise FunctionError(message["error"])
        return json.loads(message["payload"])

    def close(self) -> None:
        """End the process: a clean exit when it is idle, killed otherwise."""
        if not self.alive:
            return
        self.alive = False
        self._conn.close()  # the bootstrap reads EOF and returns
        self._process.kill()

    def _receive(self, limit_s: float, *, request_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + limit_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                message = f"RequestId: {request_id} Error: Task timed out after {limit_s:.2f} seconds"
                raise FunctionError({"errorType": "Sandbox.Timedout", "errorMessage": message})
            try:
                ready = self._conn.poll(min(left, MEMORY_SAMPLE_S))
            except OSError:
                ready = True  # a broken connection: reading tells what happened
            if ready:
                return self._read(request_id)
            self._check_memory(request_id)

    def _read(self, request_id: str) -> dict[str, Any]:
        try:
            message: dict[str, Any] = json.loads(self._conn.recv_bytes())
        except (EOFError, OSError):
            self._exited(request_id)
        return message

    def _check_memory(self, request_id: str) -> None:
        if self._watched is None:
            return
        try:
            used_mb = self._watched.memory_info().rss / 2**20
        except psutil.Error:
            return  # gone: the next read reports it
        if used_mb > self.spec.memory_mb:
            self.close()
            log.warning(
                "%s used %.0f MB of its %d MB: killed", self.spec.function_id, used_mb, self.spec.memory_mb
            )
            raise FunctionError({
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
            })  # fmt: skip

    def _exited(self, request_id: str) -> NoReturn:
        """The process went away: the environment is done, and so is the invocation."""
        self.close()
        raise FunctionError({
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited without providing a reason",
        })  # fmt: skip
