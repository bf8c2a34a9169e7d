"""An X-Ray daemon on loopback: the UDP endpoint Lambda runs beside a traced function, keeping
every segment document it receives (what `auralink.tracing`'s X-Ray exporter sends)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

HEADER = b'{"format": "json", "version": 1}\n'


class XRayDaemon:
    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self.datagrams: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="xray-daemon", daemon=True)

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self._socket.recvfrom(65_535)
            except TimeoutError:
                continue
            with self._lock:
                self.datagrams.append(data)

    def documents(self) -> list[dict[str, Any]]:
        """Every document received so far; each datagram must be the header and one JSON document."""
        with self._lock:
            datagrams = list(self.datagrams)
        documents = []
        for data in datagrams:
            assert data.startswith(HEADER), data[:80]
            documents.append(json.loads(data[len(HEADER) :]))
        return documents

    def raw(self) -> bytes:
        with self._lock:
            return b"\n".join(self.datagrams)


@contextmanager
def xray_daemon() -> Iterator[XRayDaemon]:
    daemon = XRayDaemon()
    daemon._thread.start()
    try:
        yield daemon
    finally:
        daemon._stop.set()
        daemon._thread.join(timeout=2)
        daemon._socket.close()
