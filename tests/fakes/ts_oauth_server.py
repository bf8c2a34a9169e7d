"""The MCP TypeScript SDK's example server behind OAuth, run from npm (`@modelcontextprotocol/sdk`).

`simpleStreamableHttp.js --oauth --oauth-strict` serves Streamable HTTP at `/mcp` on `MCP_PORT`
and its demo authorization server on `MCP_AUTH_PORT`, both named `localhost` in their metadata
(the issuer is `http://localhost:<port>/`, with the URL parser's trailing slash). The demo
(`demoInMemoryOAuthProvider.js`) approves every `/authorize` at once, registers clients
dynamically, issues one-hour access tokens and no refresh token (its `exchangeRefreshToken`
throws), and with `--oauth-strict` issues a token only for the RFC 8707 resource of the MCP
server and accepts only such tokens, so a connection names the server as `url` does (with
`127.0.0.1` the protected resource metadata names another resource). Clients and tokens live in
the process's memory: `restart` forgets them all, on the same ports. After that, a token it no
longer knows is answered 500 `server_error`, not 401 (the example's introspection verifier throws
a plain Error, which the SDK's bearer middleware maps to 500), and `/authorize` for a client it no
longer knows answers 400 `invalid_client` instead of redirecting.

It is pinned in `tests/fakes/npm/package.json`; `make test` installs it and it runs on the venv's Node.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

from tests.support.node import NODE, answers, free_port

NPM_DIR = Path(__file__).resolve().parent / "npm"
ENTRY = (
    NPM_DIR
    / "node_modules"
    / "@modelcontextprotocol"
    / "sdk"
    / "dist"
    / "esm"
    / "examples"
    / "server"
    / "simpleStreamableHttp.js"
)

_LOGGED_TOKEN = re.compile(r"\btoken: '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'")


class TypeScriptOAuthServer:
    """The example server and its authorization server on two free ports, stopped at exit."""

    def __init__(self) -> None:
        self.port = free_port()
        self.auth_port = free_port()
        while self.auth_port == self.port:
            self.auth_port = free_port()
        self._output: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        # The server checks tokens against this resource, so it is spelled the way the server spells it.
        return f"http://localhost:{self.port}/mcp"

    @property
    def issuer(self) -> str:
        return f"http://localhost:{self.auth_port}/"

    def start(self, timeout_s: float = 20.0) -> TypeScriptOAuthServer:
        if not ENTRY.exists():
            raise RuntimeError("the MCP TypeScript SDK is missing: `make pytest` installs it")
        if self._output is None:
            # One file across restarts, so that what the server said before a restart is still there.
            self._output = tempfile.TemporaryFile()  # noqa: SIM115  # open for the life of the server
        env = {
            "PATH": str(NODE.parent),
            "HOME": str(NPM_DIR),
            "MCP_PORT": str(self.port),
            "MCP_AUTH_PORT": str(self.auth_port),
        }
        self._process = subprocess.Popen(
            [str(NODE), str(ENTRY), "--oauth", "--oauth-strict"],
            cwd=NPM_DIR,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            # Its own process group, so that stopping it reaches anything it spawned.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while not (answers(self.port) and answers(self.auth_port)):
            if self._process.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.close()
                raise RuntimeError(f"the TypeScript SDK's example server did not start:\n{output}")
            time.sleep(0.05)
        return self

    def output(self) -> str:
        return self._everything_said()[-4000:]

    def access_tokens(self) -> set[str]:
        """Every access token the server was sent, from its log of authenticated requests
        (`Authenticated user: { token: '...', ...}`): the demo's tokens are UUIDs."""
        return set(_LOGGED_TOKEN.findall(self._everything_said()))

    def _everything_said(self) -> str:
        if self._output is None:
            return ""
        self._output.seek(0)
        return self._output.read().decode(errors="replace")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        if self._output is not None:
            self._output.close()
            self._output = None

    def restart(self) -> TypeScriptOAuthServer:
        """The same server on the same ports, with none of the clients or tokens it issued before."""
        self.stop()
        # A port just closed by the old process is free again at once (the server sets SO_REUSEADDR).
        return self.start()

    def __enter__(self) -> TypeScriptOAuthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
