"""Pipeline runs on the real Prefect server of the test session.

A run is started over its handler (the execute route records it and starts an execution of the
real run state machine in moto, which runs nothing); its steps are driven the way the state
machine drives them (`runs.service.advance`), in-process, against the session's Prefect server,
the MCP tools server on loopback and the OpenAI-compatible double behind the user's own key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import boto3
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings

from auralink.agents.prefect.executor import FRAMEWORK, PrefectExecutor
from auralink.agents.runs import service
from auralink.agents.runs.models import StepCommand
from auralink.auth import Identity
from auralink.llm.api_models import PreferencesUpdate
from auralink.llm.preferences import put_preferences
from infra.local.prefect_server import LocalPrefectServer
from tests.fakes.mcp_servers import LoopbackServer
from tests.fakes.openai_server import LlmServer, Text, openai_server
from tests.integration.pipelines.conftest import Api
from tests.support import environment
from tests.support.handlers import ROOT, request
from tests.support.runs import executor_in_place

STEP_ARN = "arn:aws:lambda:us-east-1:123456789012:function:auralink-test-RunStepFunction:live"
CREW_STEP_ARN = "arn:aws:lambda:us-east-1:123456789012:function:auralink-test-CrewStepFunction"
KEY = "sk-pipeline-loopback-9f8e7d6c5b4a"
MODEL = "openai/gpt-5.4-mini"
STEP_MS = 120_000


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LlmServer]:
    with openai_server(api_key=KEY) as server:
        yield server


@pytest.fixture
def pipelines_env(
    credentials_key: pytest.MonkeyPatch, prefect_server: LocalPrefectServer, tmp_path: Path
) -> pytest.MonkeyPatch:
    """The run state machine in moto, the session's Prefect server, results under the test's tmp."""
    definition = (ROOT / "infra" / "statemachines" / "run.asl.json").read_text(encoding="utf-8")
    arn = boto3.client("stepfunctions").create_state_machine(
        name="auralink-test-pipeline-runs",
        definition=definition.replace("${RunStepFunctionArn}", STEP_ARN).replace(
            "${CrewStepFunctionArn}", CREW_STEP_ARN
        ),
        roleArn="arn:aws:iam::123456789012:role/auralink-test-RunStateMachineRole",
        type="STANDARD",
    )["stateMachineArn"]
    credentials_key.setenv("RUN_STATE_MACHINE_ARN", arn)
    credentials_key.setenv("PREFECT_API_URL", prefect_server.api_url)
    credentials_key.setenv("PIPELINE_RESULTS_PATH", str(tmp_path / "results"))
    environment.forget_caches()
    return credentials_key


@pytest.fixture
def executor(pipelines_env: pytest.MonkeyPatch) -> Iterator[PrefectExecutor]:
    with executor_in_place(FRAMEWORK, PrefectExecutor()) as prefect:
        yield prefect


@pytest.fixture
def owner(
    api: Api,
    executor: PrefectExecutor,
    llm_server: LlmServer,
    tools_mcp: LoopbackServer,
    make_user_id: Callable[[str], str],
) -> str:
    """A user with a connection "tools" to the loopback tools server and a key to the model double."""
    user = make_user_id("pipes")
    status, answer = api(
        "McpConnectFunction", user, body={"server_type": "custom", "endpoint": tools_mcp.url, "name": "tools"}
    )
    assert status == 201, answer
    put_preferences(
        Identity(sub=user),
        PreferencesUpdate.model_validate(
            {
                "default_model": MODEL,
                "providers": {"openai": {"api_key": KEY, "base_url": llm_server.base_url + "/v1"}},
            }
        ),
    )
    llm_server.script.reset()
    return user


def create_pipeline(api: Api, user: str, definition: dict[str, Any], **fields: Any) -> str:
    status, created = api(
        "CreatePipelineFunction",
        user,
        body={"name": fields.pop("name", "p"), "definition": definition, **fields},
    )
    assert status == 201, created
    return str(created["pipeline_id"])


@pytest.fixture
def execute(token_for: Callable[..., str]) -> Callable[..., tuple[int, Any, dict[str, str]]]:
    """execute(user, pipeline_id, parameters, key=None) -> (status, body, headers)."""

    def call(
        user: str, pipeline_id: str, parameters: dict[str, Any], key: str | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        return request(
            "ExecutePipelineFunction",
            token_for(user),
            body={"parameters": parameters},
            path={"pipeline_id": pipeline_id},
            headers={"Idempotency-Key": key},
        )

    return call


def started(execute: Callable[..., Any], user: str, pipeline_id: str, parameters: dict[str, Any]) -> str:
    status, accepted, _ = execute(user, pipeline_id, parameters)
    assert status == 202, accepted
    return str(accepted["run_id"])


def step(run_id: str, user: str, *, remaining_ms: int = STEP_MS) -> str:
    command = StepCommand.model_validate({"run_id": run_id, "user_id": user})
    return service.advance(command, remaining_ms=remaining_ms).status.value


def run_to_end(run_id: str, user: str, *, max_steps: int = 10) -> list[str]:
    statuses = []
    for _ in range(max_steps):
        statuses.append(step(run_id, user))
        if statuses[-1] != "running":
            return statuses
    raise AssertionError(f"still running after {max_steps} steps")


def prefect_view(api_url: str, flow_run_id: str) -> tuple[Any, list[Any]]:
    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(UUID(flow_run_id))
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        )
    return flow_run, task_runs


THREE_STEPS = {
    "steps": [
        {
            "id": "echo",
            "kind": "mcp_tool",
            "connection": "tools",
            "tool": "echo",
            "arguments": {"text": "{parameters.topic}"},
        },
        {
            "id": "double",
            "kind": "map",
            "over": "{parameters.items}",
            "concurrency": 2,
            "step": {"kind": "tool", "tool": "calculator", "arguments": {"expression": "{item} * 2"}},
        },
        {
            "id": "headline",
            "kind": "llm",
            "depends_on": ["echo", "double"],
            "prompt": "Headline for {steps.echo.output}: {steps.double.output}",
        },
    ],
    "output": {
        "echo": "{steps.echo.output}",
        "doubled": "{steps.double.output}",
        "headline": "{steps.headline.output}",
    },
}


def test_a_pipeline_of_an_mcp_tool_a_map_and_a_model_call_runs_on_prefect(
    api, execute, owner, llm_server, prefect_server
):
    llm_server.script.then(Text("Five numbers, doubled", input_tokens=20, output_tokens=5))
    pipeline_id = create_pipeline(api, owner, THREE_STEPS)
    run_id = started(execute, owner, pipeline_id, {"topic": "doubling", "items": [1, 2, 3, 4, 5]})

    assert run_to_end(run_id, owner) == ["succeeded"]

    status, run = api("RunsGetRunFunction", owner, path={"run_id": run_id})
    assert status == 200, run
    assert run["kind"] == "pipeline" and run["pipeline_id"] == pipeline_id and run["framework"] == "prefect"
    # The output's strings are templates: a rendered list is its JSON text.
    assert json.loads(run["output"]["doubled"]) == [{"result": n * 2} for n in [1, 2, 3, 4, 5]]
    assert run["output"]["headline"] == "Five numbers, doubled"
    assert "doubling" in str(run["output"]["echo"])
    tasks = {(t["step"], t.get("map_index")): t for t in run["task_runs"]}
    assert sorted(tasks) == sorted(
        [("echo", None), ("headline", None)] + [("double", index) for index in range(5)]
    )
    assert {t["state"] for t in run["task_runs"]} == {"COMPLETED"}
    assert all(t["attempts"] == 1 and t["started_at"] and t["ended_at"] for t in run["task_runs"])
    assert tasks[("double", 3)]["output"] == {"result": 8}
    # At most two items of the map ran at once.
    items = sorted((tasks[("double", i)] for i in range(5)), key=lambda t: t["started_at"])
    for index, item in enumerate(items[2:], start=2):
        overlapping = [other for other in items[:index] if other["ended_at"] > item["started_at"]]
        assert len(overlapping) < 2
    assert run["usage"]["llm_calls"] == 1 and run["usage"]["input_tokens"] == 20
    # The model was called with the rendered prompt, through the user's key.
    prompt = llm_server.script.received[-1].body["messages"][-1]["content"]
    assert prompt.startswith("Headline for ") and '[{"result":2}' in prompt
    # Prefect's own view agrees.
    flow_run, task_runs = prefect_view(prefect_server.api_url, run["prefect_flow_run_id"])
    assert flow_run.state.type.value == "COMPLETED"
    assert set(flow_run.tags) == {f"auralink-run:{run_id}", f"auralink-pipeline:{pipeline_id}"}
    assert sorted(t.name.rsplit("-", 1)[0] for t in task_runs) == sorted(t["step"] for t in run["task_runs"])
    assert {t.state.type.value for t in task_runs} == {"COMPLETED"}
    assert run["prefect_ui_url"] == (
        prefect_server.api_url.removesuffix("/api") + f"/runs/flow-run/{run['prefect_flow_run_id']}"
    )


def test_parameters_are_checked_against_the_schema_and_another_users_pipeline_is_not_found(
    api, execute, owner, make_user_id
):
    pipeline_id = create_pipeline(
        api,
        owner,
        {"steps": [{"id": "t", "kind": "tool", "tool": "calculator", "arguments": {"expression": "6*7"}}]},
        parameters_schema={"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
    )

    status, body, _ = execute(owner, pipeline_id, {"n": "seven"})
    assert status == 422
    assert [d["field"] for d in body["error"]["details"]] == ["body.parameters.n"]
    status, body, _ = execute(make_user_id("other"), pipeline_id, {"n": 7})
    assert (status, body["error"]["code"]) == (404, "pipeline_not_found")
    status, body, _ = execute(owner, pipeline_id, {"n": 7})
    assert status == 202
    status, page = api("ListPipelineRunsFunction", owner, path={"pipeline_id": pipeline_id})
    assert status == 200 and [r["run_id"] for r in page["runs"]] == [body["run_id"]]
