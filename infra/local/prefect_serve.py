"""Serve Prefect's API and UI on a listening socket inherited from the process that started this one.

Run by `infra.local.prefect_server` with the Prefect server's own interpreter (`.venv-prefect`,
where the full `prefect` distribution lives): `python -I prefect_serve.py <fd>`. It does what
`prefect server start` does in the foreground (the same application, services included), except
that the socket is already bound and listening: the starter holds the port from the first
moment, so a taken port fails there at once, and a client that connects while this process still
loads waits for its answer instead of being refused. The settings come from the environment
(`PREFECT_HOME`, the database URL, the UI's API URL, analytics off).

Standard library, uvicorn and Prefect only: this file never runs in the main environment, which
has Prefect's client without its server.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -I prefect_serve.py <listening socket fd>", file=sys.stderr)
        return 2
    listening = socket.socket(fileno=int(argv[0]))
    uvicorn = importlib.import_module("uvicorn")
    # Looked up by name: the main environment's type checker sees Prefect's client, which has no
    # server module.
    server_module = importlib.import_module("prefect.server.api.server")
    app = server_module.create_app(final=True)
    config = uvicorn.Config(
        app,
        log_level=os.environ.get("PREFECT_SERVER_LOGGING_LEVEL", "warning").lower(),
        timeout_keep_alive=5,
    )
    uvicorn.Server(config).run(sockets=[listening])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
