"""The published reference server `@modelcontextprotocol/server-everything`, run from npm.

It is pinned in `tests/fakes/npm/package.json`; `make test` installs it (`npm ci --prefix
tests/fakes/npm` with the venv's Node) and it runs on the venv's Node.
It serves Streamable HTTP on the 2025-11-25 handshake at `/mcp` on the port named by `PORT`.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.node import NODE, answers, free_port

NPM_DIR = Path(__file__).resolve().parent / "npm"
ENTRY = NPM_DIR / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"


class EverythingServer:
    """`node dist/index.js streamableHttp` on a free port, stopped at exit."""

    def __init__(self) -> None:
        self.port = free_port()
        self._output = tempfile.TemporaryFile()  # noqa: SIM115  # open for the life of the server
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self, timeout_s: float = 20.0) -> EverythingServer:
        if not ENTRY.exists():
            raise RuntimeError("the npm reference server is missing: `make pytest` installs it")
        # Only what node needs: the server has a tool that returns its environment.
        env = {"PATH": str(NODE.parent), "HOME": str(NPM_DIR), "PORT": str(self.port)}
        self._process = subprocess.Popen(
            [str(NODE), str(ENTRY), "streamableHttp"],
            cwd=NPM_DIR,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while not answers(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the npm reference server did not start:\n{self.output()}")
            time.sleep(0.05)
        return self

    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode(errors="replace")[-4000:]

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._output.close()

    def __enter__(self) -> EverythingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
