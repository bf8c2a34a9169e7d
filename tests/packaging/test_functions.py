"""Every function of the template, as built, handles its sample event.

The local runtime runs the built artifacts: each function's code folder copied as `sam build`
copies it, the layers built by the Makefile (tests/packaging/conftest.py), and the runtime's boto3,
in a clean interpreter (`-S`, no virtualenv) per environment. Each function gets its
`events/<FunctionId>.json` against the test database; HTTP events carry a valid token of a fresh
user, so that the handler does its work instead of stopping at authentication.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from auralink.agents.runs.control import WORKFLOW_FRAMEWORK
from infra.local.dockerfile import TaskRoot, assemble
from infra.local.lambdas import BuiltArtifacts, FunctionError
from infra.local.postgres import LocalDatabase
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from infra.template import FunctionSpec, functions, load_template
from tests.e2e.conftest import runtime_database_url
from tests.fakes.mcp_servers import LoopbackServer, deepwiki_app
from tests.packaging.artifacts import ROOT, SETUP_TIMEOUT_S, Artifacts
from tests.support.crew import crew_python
from tests.support.runs import create_run, request_cancel

pytestmark = pytest.mark.timeout(SETUP_TIMEOUT_S)

FUNCTIONS = sorted(spec.logical_id for spec in functions(load_template(ROOT / "template.yaml")))
# What a sample event may answer: the handler ran (a 4xx names what the sample cannot do, such as
# a connection that does not exist), but never a failure of its own.
SERVER_ERRORS = range(500, 600)
# Two functions at a time: each cold start of a clean interpreter keeps one core busy.
PARALLEL = 2
# The step functions, by the framework of the runs they step. There is no image without Docker: the
# crew step runs from the task root its Dockerfile lays out (`infra.local.dockerfile`), in CrewAI's
# environment made from the lock the image installs.
STEP_FRAMEWORKS = {"RunStepFunction": WORKFLOW_FRAMEWORK, "CrewStepFunction": "crewai"}


@pytest.fixture(scope="module")
def deepwiki() -> Iterator[LoopbackServer]:
    """The seeded DeepWiki server, on loopback: the connect sample connects to it."""
    with LoopbackServer(deepwiki_app(), name="packaging-deepwiki") as server:
        yield server


@pytest.fixture(scope="module")
def built_runtime(
    deepwiki: LoopbackServer,
    artifacts: Artifacts,
    database: LocalDatabase,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalRuntime]:
    code = tmp_path_factory.mktemp("functions")
    template_functions = functions(load_template(ROOT / "template.yaml"))
    specs = [spec for spec in template_functions if spec.image is None]
    images = {
        spec.logical_id: _image_root(spec, crew_python(), tmp_path_factory)
        for spec in template_functions
        if spec.image is not None
    }
    roots = {}
    for spec in specs:
        # What `sam build` does for a function without a requirements file: copy its CodeUri.
        roots[spec.logical_id] = code / spec.logical_id
        shutil.copytree(
            ROOT / spec.code_uri, roots[spec.logical_id], ignore=shutil.ignore_patterns("__pycache__")
        )
    built = BuiltArtifacts(
        interpreter=artifacts.python,
        function_roots=roots,
        layer_roots={layer_id: folder.parent for layer_id, folder in artifacts.layers.items()},
        runtime_paths=(artifacts.runtime,),
        image_roots={function_id: root.folder for function_id, root in images.items()},
    )
    with LocalRuntime(
        ROOT,
        port=0,
        database_url=runtime_database_url(database),
        schedules=False,
        artifacts=built,
        variables={"DEEPWIKI_MCP_URL": deepwiki.url},
    ) as runtime:
        yield runtime


def _image_root(spec: FunctionSpec, python: Path, tmp_path_factory: pytest.TempPathFactory) -> TaskRoot:
    assert spec.image is not None
    context = ROOT / spec.image.docker_context
    root = assemble(
        context / spec.image.dockerfile,
        context,
        tmp_path_factory.mktemp(spec.logical_id) / "task",
        python=python,
        scratch=tmp_path_factory.mktemp(f"{spec.logical_id}-scratch"),
    )
    assert root.handler == spec.handler
    return root


@pytest.fixture(scope="module")
def answers(built_runtime: LocalRuntime) -> dict[str, Any]:
    """Each function's answer to its sample event (or the FunctionError it raised)."""

    def answer(function_id: str) -> Any:
        try:
            return built_runtime.invoke(function_id, _sample(function_id))
        except FunctionError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return dict(zip(FUNCTIONS, pool.map(answer, FUNCTIONS), strict=True))


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_the_built_function_handles_its_sample_event(answers: dict[str, Any], function_id: str) -> None:
    answer = answers[function_id]

    assert not isinstance(answer, FunctionError), answer.payload
    if isinstance(answer, dict) and "statusCode" in answer:
        assert answer["statusCode"] not in SERVER_ERRORS, answer.get("body")


def test_the_built_functions_ran_from_the_build(built_runtime: LocalRuntime, artifacts: Artifacts) -> None:
    # The function reads its configuration from the built layer, not from the working tree.
    variables = built_runtime.functions.variables("HealthFunction")

    assert Path(variables["MCP_CONFIG_PATH"]).is_relative_to(artifacts.layers["CoreLayer"])
    assert built_runtime.functions.task_root("HealthFunction") != ROOT / "functions" / "platform" / "health"


def test_the_crew_step_ran_from_the_task_root_its_dockerfile_lays_out(built_runtime: LocalRuntime) -> None:
    root = built_runtime.functions.task_root("CrewStepFunction")
    variables = built_runtime.functions.variables("CrewStepFunction")

    assert root != ROOT / "functions" / "steps" / "crew_step"
    # What the Dockerfile's COPY and RUN instructions put there: the package with its configuration,
    # SQL, parsed YAML documents and bytecode, and the handler.
    assert (root / "app.py").is_file() and (root / "auralink" / "db" / "sql" / "migrations").is_dir()
    assert (root / "auralink" / "yaml_documents.json").is_file()
    assert list((root / "auralink" / "__pycache__").glob("*.pyc"))
    assert Path(variables["MCP_CONFIG_PATH"]) == root / "auralink" / "config" / "mcp-config.yaml"
    assert Path(variables["MCP_CONFIG_PATH"]).is_file()
    # The package can only have come from there: CrewAI's environment does not hold it.
    probe = "import importlib.util; print(importlib.util.find_spec('auralink'))"
    found = subprocess.run([crew_python(), "-s", "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "None"


def _sample(function_id: str) -> Any:
    event = json.loads((ROOT / "events" / f"{function_id}.json").read_text())
    if function_id in STEP_FRAMEWORKS:
        # A run of its own, whose cancel is requested: the step takes it and closes it.
        event["run_id"] = create_run(event["user_id"], framework=STEP_FRAMEWORKS[function_id])
        request_cancel(event["user_id"], event["run_id"])
    headers = event.get("headers") if isinstance(event, dict) else None
    if isinstance(headers, dict) and "authorization" in headers:
        headers["authorization"] = f"Bearer {mint_dev_token(f'packaging-{uuid.uuid4().hex[:8]}')}"
    return event
