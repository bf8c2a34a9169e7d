"""Heavy imports stay where they are needed: the `mcp` SDK (about 0.6 s of cold start) in functions
that speak MCP, the agent frameworks (LangGraph, LangChain, AutoGen) in the run step alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from infra.template import function_properties, functions
from tests.infra.template_support import ROOT

# Functions that answer from the database alone.
WITHOUT_MCP = {
    "HealthFunction",
    "MeFunction",
    "MigrateFunction",
    "RefreshSummariesFunction",
    "McpServersFunction",
    "McpListConnectionsFunction",
    "McpGetConnectionFunction",
    "McpDeleteConnectionFunction",
    "McpUsageStatsFunction",
    "McpOperationsFunction",
    "LlmProvidersFunction",
    "LlmModelsFunction",
    "LlmGetPreferencesFunction",
    "LlmPutPreferencesFunction",
    "LlmChatFunction",
    "LlmMetricsFunction",
    "LlmComparisonFunction",
    "RunsExecuteWorkflowFunction",
    "RunsListRunsFunction",
    "RunsGetRunFunction",
    "RunsResumeRunFunction",
    "RunsCancelRunFunction",
    "RunSweeperFunction",
    # Creating or replacing a workflow loads the MCP package only to check an MCP tool's name.
    "CreateWorkflowFunction",
    "ListWorkflowsFunction",
    "GetWorkflowFunction",
    "UpdateWorkflowFunction",
    "DeleteWorkflowFunction",
}

_PROBE = """
import importlib.util, json, sys
loaded = {}
for name, path in json.loads(sys.argv[1]).items():
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location("fn_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    new = set(sys.modules) - before
    loaded[name] = sorted(m for m in new if m.split(".")[0] in set(sys.argv[2].split(",")))
print(json.dumps(loaded))
"""
# The only function that runs agent frameworks; its own layer carries them.
RUNS_AGENTS = {"RunStepFunction"}
AGENT_FRAMEWORKS = ("langgraph", "langchain_core", "autogen_core", "autogen_agentchat")


def _loaded(
    template: dict[str, Any], logical_ids: set[str], packages: tuple[str, ...]
) -> dict[str, list[str]]:
    """The modules of ``packages`` that importing each function's handler module loads."""
    paths = {
        spec.logical_id: str(ROOT / spec.code_uri / spec.module_path)
        for spec in functions(template)
        if spec.logical_id in logical_ids
    }
    assert set(paths) == logical_ids
    environment = {
        **os.environ,
        "ENVIRONMENT": "development",
        "DATABASE_URL": "postgresql://unused@127.0.0.1:9/unused",
        "AUTH_ISSUER": "https://issuer.test",
        "AUTH_AUDIENCE": "auralink-test",
        "AUTH_ALGORITHMS": "HS256",
        "AUTH_JWT_SECRET_ID": "unused",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(paths), ",".join(packages)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return {name: modules for name, modules in json.loads(result.stdout).items() if modules}


def test_functions_that_do_not_speak_mcp_do_not_import_it(template: dict[str, Any]) -> None:
    assert _loaded(template, WITHOUT_MCP, ("mcp",)) == {}


def test_only_the_run_step_imports_an_agent_framework(template: dict[str, Any]) -> None:
    every_function = {spec.logical_id for spec in functions(template)}
    assert _loaded(template, every_function - RUNS_AGENTS, AGENT_FRAMEWORKS) == {}
    assert set(_loaded(template, RUNS_AGENTS, ("langgraph",))) == RUNS_AGENTS


def test_functions_that_speak_mcp_restore_a_snapshot_instead_of_importing(template: dict[str, Any]) -> None:
    # The scheduled probe's cold start matters to no one; every other MCP function answers users.
    for spec in functions(template):
        if not spec.logical_id.startswith("Mcp") or spec.logical_id in WITHOUT_MCP | {"McpProbeFunction"}:
            continue
        properties = function_properties(template, spec.logical_id)
        assert properties.get("SnapStart") == {"ApplyOn": "PublishedVersions"}, spec.logical_id
        assert properties.get("AutoPublishAlias") == "live", spec.logical_id
        assert properties.get("AutoPublishAliasAllProperties") is True, spec.logical_id
