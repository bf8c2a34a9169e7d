"""The pipeline functions on the session database, called as API Gateway would, with a real MCP
server on loopback for the checks of MCP connections and tools.

For runs: the run state machine in moto (it runs nothing: the tests step runs the way it would, with
`runs.service.advance`, in-process), the session's Prefect server, the MCP tools server on loopback
and the OpenAI-compatible double behind the user's own key.
"""

from __future__ import annotations

import json
import time
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
from auralink.agents.tools.catalog import recorded_calls
from auralink.auth import Identity
from auralink.llm.api_models import PreferencesUpdate
from auralink.llm.preferences import put_preferences
from infra.local.prefect_server import LocalPrefectServer
from tests.fakes.mcp_servers import LoopbackServer, tools_app
from tests.fakes.openai_server import LlmServer, openai_server
from tests.support import environment
from tests.support.handlers import ROOT, StatusAndBody, api_as_users, request
from tests.support.runs import executor_in_place

Api = StatusAndBody


@pytest.fixture(scope="session")
def tools_mcp() -> Iterator[LoopbackServer]:
    """The tools server of the MCP tests (echo, add, image, fails, region...), stateless revision."""
    with LoopbackServer(tools_app(stateless=True), name="pipeline-tools") as server:
        yield server


@pytest.fixture
def api(credentials_key: pytest.MonkeyPatch, token_for: Callable[..., str]) -> Api:
    """api("GetPipelineFunction", "alice", path={"pipeline_id": ...}, body=..., query=...)."""
    return api_as_users(token_for)


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


# The run state machine's retries of an interrupted step (run.asl.json: StepInterrupted, five
# more attempts), here 1 s apart: the Prefect server answers an error now and then under load
# (the step then stops, and is done again from its checkpoint).
_INTERRUPTED_RETRIES = 5


def run_to_end(run_id: str, user: str, *, max_steps: int = 10) -> list[str]:
    """The statuses of the run's steps until it stops running, interrupted steps retried as the
    state machine retries them."""
    statuses = []
    retries = _INTERRUPTED_RETRIES
    for _ in range(max_steps):
        try:
            statuses.append(step(run_id, user))
        except service.StepInterrupted:
            if retries == 0:
                raise
            retries -= 1
            time.sleep(1)
            continue
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


def tool_calls(user: str, run_id: str) -> list[Any]:
    return recorded_calls(Identity(sub=user), run_id=run_id)


def get_run(api: Api, user: str, run_id: str) -> dict[str, Any]:
    status, run = api("RunsGetRunFunction", user, path={"run_id": run_id})
    assert status == 200, run
    return dict(run)


def retries_spent(run_id: str, user: str, interrupted: BaseException) -> str:
    """The run's status once the state machine, its retries of an interrupted step spent, marks it
    failed with Lambda's error."""
    cause = json.dumps({"errorMessage": str(interrupted), "errorType": "StepInterrupted"})
    command = StepCommand.model_validate(
        {
            "run_id": run_id,
            "user_id": user,
            "action": "fail",
            "error": {"Error": "StepInterrupted", "Cause": cause},
        }
    )
    return service.advance(command, remaining_ms=STEP_MS).status.value
