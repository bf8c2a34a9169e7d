"""The `mcp` SDK costs about 0.6 s of cold start: functions that never speak MCP must not import it."""

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
    "RunStepFunction",
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
    loaded[name] = sorted(m for m in new if m == "mcp" or m.startswith(("mcp.", "langgraph")))
print(json.dumps(loaded))
"""


def test_functions_that_do_not_speak_mcp_do_not_import_it(template: dict[str, Any]) -> None:
    paths = {
        spec.logical_id: str(ROOT / spec.code_uri / spec.module_path)
        for spec in functions(template)
        if spec.logical_id in WITHOUT_MCP
    }
    assert set(paths) == WITHOUT_MCP
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
        [sys.executable, "-c", _PROBE, json.dumps(paths)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    heavy = {name: modules for name, modules in json.loads(result.stdout).items() if modules}
    assert heavy == {}


def test_functions_that_speak_mcp_restore_a_snapshot_instead_of_importing(template: dict[str, Any]) -> None:
    # The scheduled probe's cold start matters to no one; every other MCP function answers users.
    for spec in functions(template):
        if not spec.logical_id.startswith("Mcp") or spec.logical_id in WITHOUT_MCP | {"McpProbeFunction"}:
            continue
        properties = function_properties(template, spec.logical_id)
        assert properties.get("SnapStart") == {"ApplyOn": "PublishedVersions"}, spec.logical_id
        assert properties.get("AutoPublishAlias") == "live", spec.logical_id
        assert properties.get("AutoPublishAliasAllProperties") is True, spec.logical_id
