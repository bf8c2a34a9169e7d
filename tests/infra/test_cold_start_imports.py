"""Heavy imports stay where they are needed, with the groups read from the template:

- the `mcp` SDK (about 0.6 s of cold start) only in functions that restore a snapshot (SnapStart)
  or run on a schedule, whose cold start matters to no one;
- the agent frameworks (LangGraph, LangChain, AutoGen, Prefect) only in functions given a framework's layer,
  each framework only where its own layer is (its code reached at all, a lazy import included), and
  none of them in an API function (one with HttpApi events);
- boto3 (and Powertools' secrets client) in no function at init; secrets are read without it
  (`auralink.aws_json`, tested in tests/unit/test_aws_json.py);
- the AWS X-Ray SDK (and Powertools' Tracer, built on it) in no function at all: traces go through
  OpenTelemetry (`auralink.tracing`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.template import FunctionSpec, function_properties, functions
from tests.infra.template_support import ROOT, function_ids
from tests.support.imports import FRAMEWORK_LAYERS, reached_modules, within

_PROBE = """
import importlib.util, json, sys
watched = tuple(sys.argv[2].split(","))
loaded = {}
for name, path in json.loads(sys.argv[1]).items():
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location("fn_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    new = set(sys.modules) - before
    loaded[name] = sorted(m for m in new if m in watched or m.startswith(tuple(w + "." for w in watched)))
print(json.dumps(loaded))
"""
AGENT_FRAMEWORKS = tuple(package for packages in FRAMEWORK_LAYERS.values() for package in packages)
SECRETS_CLIENT = ("boto3", "aws_lambda_powertools.utilities.parameters")
# The environment of a function that reads no secret: the database by URL, a token key never read.
IMPORT_ENVIRONMENT = {
    "ENVIRONMENT": "development",
    "DATABASE_URL": "postgresql://unused@127.0.0.1:9/unused",
    "AUTH_ISSUER": "https://issuer.test",
    "AUTH_AUDIENCE": "auralink-test",
    "AUTH_ALGORITHMS": "HS256",
    "AUTH_JWT_SECRET_ID": "unused",
}


def _loaded(
    template: dict[str, Any], logical_ids: set[str], modules: tuple[str, ...]
) -> dict[str, list[str]]:
    """The ``modules`` (and their submodules) that importing each function's handler module loads.

    One interpreter imports them in turn, so a module shows at the first function that loads it.
    """
    paths = {
        spec.logical_id: str(ROOT / spec.code_uri / spec.module_path)
        for spec in functions(template)
        if spec.logical_id in logical_ids
    }
    assert set(paths) == logical_ids
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(paths), ",".join(modules)],
        env={**os.environ, **IMPORT_ENVIRONMENT},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return {name: found for name, found in json.loads(result.stdout).items() if found}


def _restores_a_snapshot(template: dict[str, Any], function_id: str) -> bool:
    return "SnapStart" in function_properties(template, function_id)


def _with_layer(template: dict[str, Any], layer_id: str) -> set[str]:
    return {
        function_id
        for function_id in function_ids(template)
        if {"Ref": layer_id} in function_properties(template, function_id).get("Layers", [])
    }


def _with_a_framework_layer(template: dict[str, Any]) -> set[str]:
    return set().union(*(_with_layer(template, layer_id) for layer_id in FRAMEWORK_LAYERS))


def _api_functions(template: dict[str, Any]) -> set[str]:
    return {spec.logical_id for spec in functions(template) if spec.routes}


def _spec(template: dict[str, Any], function_id: str) -> FunctionSpec:
    return next(spec for spec in functions(template) if spec.logical_id == function_id)


def _code_files(spec: FunctionSpec) -> list[Path]:
    return sorted((ROOT / spec.code_uri).rglob("*.py"))


def test_only_functions_that_restore_a_snapshot_import_the_mcp_sdk(template: dict[str, Any]) -> None:
    # A function that answers users and imports the SDK at init without SnapStart pays ~0.6 s on
    # every cold start; one that runs on a schedule may.
    plain = {
        spec.logical_id
        for spec in functions(template)
        if not spec.schedules and not _restores_a_snapshot(template, spec.logical_id)
    }

    assert {"MeFunction", "McpListConnectionsFunction", "CreateWorkflowFunction"} <= plain
    assert _loaded(template, plain, ("mcp",)) == {}


def test_only_functions_given_a_framework_layer_import_an_agent_framework(template: dict[str, Any]) -> None:
    runs_agents = _with_a_framework_layer(template)

    assert "RunStepFunction" in _with_layer(template, "LangGraphLayer")
    assert "RunStepFunction" in _with_layer(template, "AutoGenLayer")
    assert "RunStepFunction" in _with_layer(template, "PrefectLayer")
    assert _loaded(template, set(function_ids(template)) - runs_agents, AGENT_FRAMEWORKS) == {}
    # Workflow runs are LangGraph's: the run step builds its executor at init, for the snapshot.
    for function_id in _with_layer(template, "LangGraphLayer"):
        assert _loaded(template, {function_id}, ("langgraph",)), function_id


@pytest.mark.parametrize("layer_id", sorted(FRAMEWORK_LAYERS))
def test_a_function_whose_code_reaches_a_framework_has_its_layer(
    template: dict[str, Any], layer_id: str
) -> None:
    # Read from the source, not from an import at init: a lazy import (AutoGen's executor, loaded
    # when a team's run is stepped) shows too, and without the layer it would fail at its first run.
    reaching = {
        spec.logical_id
        for spec in functions(template)
        if within(reached_modules(_code_files(spec)), FRAMEWORK_LAYERS[layer_id])
    }

    assert reaching <= _with_layer(template, layer_id)


def test_prefect_is_the_run_steps_alone(template: dict[str, Any]) -> None:
    # Prefect's import takes about 2.5 s: no other function loads it at init or reaches it in its
    # code, the health check included (it asks the Prefect API over plain HTTP).
    others = set(function_ids(template)) - {"RunStepFunction"}
    reaching = {
        spec.logical_id
        for spec in functions(template)
        if within(reached_modules(_code_files(spec)), FRAMEWORK_LAYERS["PrefectLayer"])
    }

    assert _with_layer(template, "PrefectLayer") == {"RunStepFunction"}
    assert reaching <= {"RunStepFunction"}
    assert "auralink.prefect_api" in reached_modules(_code_files(_spec(template, "HealthFunction")))
    assert _loaded(template, others, ("prefect",)) == {}


def test_reading_the_source_finds_a_lazy_import_through_the_library(tmp_path: Path) -> None:
    handler = tmp_path / "app.py"
    handler.write_text("def lambda_handler(event, context):\n    import auralink.llm.factories.autogen\n")

    reached = reached_modules([handler])

    assert within(reached, FRAMEWORK_LAYERS["AutoGenLayer"])
    assert not within(reached, FRAMEWORK_LAYERS["LangGraphLayer"])


def test_no_api_function_imports_an_agent_framework_at_init(template: dict[str, Any]) -> None:
    # API functions answer users as they start: AutoGen's agent chat alone adds about 0.3 s to a
    # cold start, LangGraph's graphs about 1 s (docs/benchmarks.md).
    api = _api_functions(template)

    assert {"RunsExecuteWorkflowFunction", "CreateTeamFunction"} <= api
    assert api.isdisjoint(_with_a_framework_layer(template))
    assert _loaded(template, api, AGENT_FRAMEWORKS) == {}


def test_no_function_loads_the_secrets_client_at_init(template: dict[str, Any]) -> None:
    # boto3 costs 150-400 ms; what calls an AWS service other than Secrets Manager loads it then.
    assert _loaded(template, set(function_ids(template)), SECRETS_CLIENT) == {}


def test_no_api_function_loads_the_aws_client_at_init(template: dict[str, Any]) -> None:
    # `auralink.aws_json` (and http.client under it) comes with the first secret read or run start:
    # the functions that only read runs, or get their database by URL, never load it.
    assert _loaded(template, _api_functions(template), ("auralink.aws_json",)) == {}


def test_no_function_imports_the_x_ray_sdk(template: dict[str, Any]) -> None:
    # The X-Ray SDK reaches its end of support on 2027-02-25, and it cost ~0.4 s of every cold
    # start (through botocore). Neither at init nor anywhere in a function's code.
    # (Powertools' package imports its Tracer class, which loads the SDK only when instantiated.)
    tracer = ("aws_xray_sdk", "aws_lambda_powertools.tracing", "aws_lambda_powertools.Tracer")

    assert _loaded(template, set(function_ids(template)), ("aws_xray_sdk",)) == {}
    for spec in functions(template):
        assert not within(reached_modules(_code_files(spec)), tracer), spec.logical_id
