"""An AWS API on loopback whose answers a test scripts: what `auralink.aws_json` sends, and what
it makes of answers moto cannot give (5xx, throttling, refusals of any code)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Loopback:
    """An HTTP server whose answers the test scripts; it records what it was sent."""

    answers: list[tuple[int, dict[str, str], bytes, float]] = field(default_factory=list)
    received: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def answer(
        self, status: int, body: Any, headers: dict[str, str] | None = None, *, after_s: float = 0.0
    ) -> None:
        """Answer the next request with ``body`` (as JSON), ``after_s`` seconds after it came."""
        self.answers.append((status, headers or {}, json.dumps(body).encode(), after_s))


@contextmanager
def serving() -> Iterator[Loopback]:
    state = Loopback()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state.received.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
            status, headers, body, after_s = state.answers.pop(0) if state.answers else (500, {}, b"{}", 0.0)
            time.sleep(after_s)
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _handle

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
