"""CrewAI's environment: the crew step's handler loads in it without the main environment's libraries.

The image installs requirements/crewai.lock, and `.venv-crewai` is the same lock on this machine.
The handler module is imported there with what the image puts before its packages (the function's
folder and the auralink package): the modules it loads are the runs machinery's, and none that
imports the `mcp` SDK, a model provider or another agent framework. CrewAI itself comes with the
first step of a crew's run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest

from infra.local.images import image_paths
from infra.template import functions, load_template
from tests.infra.template_support import ROOT, TEMPLATE_PATH
from tests.support.crew import CREW_STEP, crew_python

_PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", "app.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import pydantic
print(json.dumps({
    "modules": sorted(sys.modules),
    "pydantic": pydantic.VERSION,
    "handler": callable(getattr(module, "lambda_handler", None)),
}))
"""
# The environment of a function that reads no secret: the database by URL, a token key never read.
_IMPORT_ENVIRONMENT = {
    "ENVIRONMENT": "development",
    "DATABASE_URL": "postgresql://unused@127.0.0.1:9/unused",
    "AUTH_ISSUER": "https://issuer.test",
    "AUTH_AUDIENCE": "auralink-test",
    "AUTH_ALGORITHMS": "HS256",
    "AUTH_JWT_SECRET_ID": "unused",
}
# What the crew step loads of the auralink package at init: the run step's contract and no more.
LOADED_AT_INIT = [
    "auralink",
    "auralink.agents",
    "auralink.agents.runs",
    "auralink.agents.runs.executors",
    "auralink.agents.runs.models",
    "auralink.agents.runs.repository",
    "auralink.agents.runs.service",
    "auralink.db",
    "auralink.db.connection",
    "auralink.errors",
    "auralink.model",
    "auralink.observability",
    "auralink.paging",
    "auralink.secrets",
    "auralink.settings",
    "auralink.snapstart",
    "auralink.tracing",
]
# Never in CrewAI's environment at init: the main environment's SDK (and what imports it), the other
# frameworks, and CrewAI's own seconds of import.
NEVER_AT_INIT = (
    "mcp",
    "auralink.mcp",
    "auralink.llm.providers",
    "langgraph",
    "langchain_core",
    "autogen_core",
    "autogen_agentchat",
    "crewai",
)


@pytest.fixture(scope="module")
def loaded() -> dict[str, Any]:
    spec = next(spec for spec in functions(load_template(TEMPLATE_PATH)) if spec.logical_id == CREW_STEP)
    result = subprocess.run(
        [str(crew_python()), "-s", "-P", "-c", _PROBE],
        env={
            "PATH": os.environ.get("PATH", os.defpath),
            "PYTHONPATH": os.pathsep.join(map(str, image_paths(ROOT))),
            **_IMPORT_ENVIRONMENT,
        },
        cwd=ROOT / spec.code_uri,
        capture_output=True,
        text=True,
        check=True,
    )
    probed: dict[str, Any] = json.loads(result.stdout)
    return probed


def test_the_handler_loads_the_runs_machinery_of_the_auralink_package_and_nothing_else(
    loaded: dict[str, Any],
) -> None:
    assert loaded["handler"]
    assert [name for name in loaded["modules"] if name.split(".")[0] == "auralink"] == LOADED_AT_INIT


def test_the_handler_loads_no_mcp_sdk_model_provider_or_agent_framework(loaded: dict[str, Any]) -> None:
    unwanted = [
        name
        for name in loaded["modules"]
        if any(name == prefix or name.startswith(prefix + ".") for prefix in NEVER_AT_INIT)
    ]

    assert unwanted == []


def test_the_step_runs_on_crewais_pydantic(loaded: dict[str, Any]) -> None:
    # crewai 1.15 pins pydantic<2.13; the main environment has 2.14: the runs machinery works on both.
    major, minor = (int(part) for part in loaded["pydantic"].split(".")[:2])

    assert (major, minor) < (2, 13)


def _pins(path: str) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", (ROOT / path).read_text(), re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


def test_the_crew_lock_holds_crewai_and_none_of_the_main_environments_frameworks() -> None:
    crew = _pins("requirements/crewai.lock")

    assert crew["crewai"].startswith("1.15.")
    assert int(crew["mcp"].split(".")[0]) < 2
    assert not {"langgraph", "langchain-core", "autogen-agentchat", "autogen-core"} & set(crew)
    # What the auralink modules of the step import, pinned as the image installs them.
    assert {"aws-lambda-powertools", "psycopg", "psycopg-binary", "pydantic-settings", "pyjwt"} <= set(crew)
