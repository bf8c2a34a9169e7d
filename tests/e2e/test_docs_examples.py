"""Every shell example of the guides runs, as written, against the local runtime.

The convention the guides follow is in `tests/support/doc_examples.py`. A moved file, a renamed
field or a changed answer makes a guide's example fail here, with the guide's line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from infra.local.postgres import LocalDatabase
from infra.local.runtime import LocalRuntime
from tests.e2e.conftest import runtime_database_url
from tests.fakes.mcp_servers import LoopbackServer, deepwiki_app
from tests.fakes.openai_server import LlmServer, openai_server
from tests.support.doc_examples import DOCS_TIMES, ROOT, documents, explain, run, session, shell_blocks
from tests.support.runtime import local_runtime_with_deepwiki

# The guides' addresses: the API as `make dev` serves it, and a local model server (Ollama's port).
DOCUMENTED_API = ("127.0.0.1:3000", "localhost:3000")
DOCUMENTED_MODEL_SERVER = "127.0.0.1:11434"
SESSION_TIMEOUT_S = 120
# The developer's shell as it was before the suite's fixtures changed the environment.
_USER_ENVIRONMENT = dict(os.environ)

GUIDES = [document for document in documents() if shell_blocks(document)]


@pytest.fixture(scope="module")
def model_server() -> Iterator[LlmServer]:
    with openai_server() as server:
        yield server


@pytest.fixture(scope="module")
def deepwiki() -> Iterator[LoopbackServer]:
    with LoopbackServer(deepwiki_app(), name="docs-deepwiki") as server:
        yield server


@pytest.fixture(scope="module")
def local_runtime(database: LocalDatabase, deepwiki: LoopbackServer) -> Iterator[LocalRuntime]:
    with local_runtime_with_deepwiki(runtime_database_url(database), deepwiki.url) as runtime:
        yield runtime


def _address(url: str) -> str:
    return str(urlsplit(url).netloc)


@pytest.mark.parametrize("document", GUIDES, ids=[str(path.relative_to(ROOT)) for path in GUIDES])
def test_the_guides_shell_examples_run(
    document: Path,
    local_runtime: LocalRuntime,
    model_server: LlmServer,
    request: pytest.FixtureRequest,
) -> None:
    api = _address(local_runtime.url)
    substitutions = {documented: api for documented in DOCUMENTED_API}
    substitutions[DOCUMENTED_MODEL_SERVER] = _address(model_server.base_url)
    guide = session(document, substitutions)
    times = request.config.stash.setdefault(DOCS_TIMES, [])
    name = str(document.relative_to(ROOT))
    if not guide.ran:
        times.append((name, 0.0, 0, len(guide.skipped)))
        pytest.skip(", ".join(f"{block.where} needs {' and '.join(block.needs)}" for block in guide.skipped))

    started = time.monotonic()
    status, output = run(guide, _USER_ENVIRONMENT, timeout_s=SESSION_TIMEOUT_S)
    times.append((name, time.monotonic() - started, len(guide.ran), len(guide.skipped)))

    assert status == 0, explain(guide, output)
