"""The local runtime with variables of the functions' environment set, as a deployment sets them.

mcp-config.yaml reads `${DEEPWIKI_MCP_URL:-...}` and the like from the functions' environment:
that is how the HTTP tests point the seeded DeepWiki server at a server on loopback. The variables
are set in this process too, for what the tests read of the configuration themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from auralink import config
from infra.local.runtime import LocalRuntime

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def local_runtime_with(database_url: str, environment: Mapping[str, str]) -> Iterator[LocalRuntime]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        # A configuration loaded before (in this process) must not outlive its variables.
        config.reset_mcp_config()
        try:
            with LocalRuntime(
                ROOT, port=0, database_url=database_url, schedules=False, variables=environment
            ) as runtime:
                yield runtime
        finally:
            config.reset_mcp_config()


@contextmanager
def local_runtime_with_deepwiki(database_url: str, deepwiki_url: str) -> Iterator[LocalRuntime]:
    """The local runtime whose seeded DeepWiki server is the one at ``deepwiki_url`` (no service key)."""
    with local_runtime_with(
        database_url, {"DEEPWIKI_MCP_URL": deepwiki_url, "DEEPWIKI_MCP_API_KEY": ""}
    ) as runtime:
        yield runtime
