"""Workflow runs on LangGraph against the real database, the loopback OpenAI-compatible server
scripting the model's turns, the MCP gateway's test servers and the hosted Memory server.

Steps are driven the way the state machine drives them (`runs.service.advance`), in-process; the
real ASL runs in the e2e tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from auralink.agents.langgraph.executor import FRAMEWORK, LangGraphExecutor
from auralink.agents.runs import service
from auralink.agents.runs.models import StepCommand, StepReply
from auralink.agents.workflows.models import WorkflowRequest
from auralink.agents.workflows.service import create_workflow
from auralink.auth import Identity
from auralink.llm.api_models import PreferencesUpdate
from auralink.llm.preferences import put_preferences
from tests.fakes.openai_server import LlmServer, openai_server
from tests.integration.agents.tools.conftest import (  # noqa: F401  # fixtures
    connect_server,
    deepwiki_server,
    hosted_api,
    tools_env,
)
from tests.integration.mcp.conftest import stateless_mcp  # noqa: F401  # a fixture
from tests.integration.mcp.gateway.conftest import gateway  # noqa: F401  # a fixture
from tests.support.runs import create_run, executor_in_place

KEY = "sk-workflow-loopback-5e6f7a8b9c0d1e2f"
MODEL = "openai/gpt-5.4-mini"
STEP_MS = 60_000


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LlmServer]:
    with openai_server(api_key=KEY) as server:
        yield server


@pytest.fixture
def model(llm_server: LlmServer) -> Iterator[LlmServer]:
    """The loopback model, its script emptied for the test."""
    llm_server.script.reset()
    yield llm_server
    llm_server.script.reset()


@pytest.fixture
def executor(tools_env: pytest.MonkeyPatch, hosted_api: str) -> Iterator[LangGraphExecutor]:  # noqa: F811
    tools_env.setenv("PUBLIC_API_URL", hosted_api)
    with executor_in_place(FRAMEWORK, LangGraphExecutor()) as langgraph:
        yield langgraph


@pytest.fixture
def user(executor: LangGraphExecutor, model: LlmServer, make_user_id: Callable[[], str]) -> str:
    """A user whose OpenAI key and base URL point at the loopback model."""
    user_id = make_user_id()
    put_preferences(
        Identity(sub=user_id),
        PreferencesUpdate.model_validate(
            {
                "default_model": MODEL,
                "providers": {"openai": {"api_key": KEY, "base_url": model.base_url + "/v1"}},
            }
        ),
    )
    return user_id


@pytest.fixture
def start() -> Callable[..., str]:
    """start(user, definition, input) -> run id: a stored workflow and a queued run of it."""

    def make(
        user_id: str, definition: dict[str, Any], run_input: dict[str, Any] | None = None, **options: Any
    ) -> str:
        workflow = create_workflow(
            Identity(sub=user_id),
            WorkflowRequest(name=f"wf-{len(definition['nodes'])}-{id(definition)}", definition=definition),
        )
        return create_run(
            user_id,
            framework=FRAMEWORK,
            run_input=run_input or {},
            workflow_id=str(workflow.workflow_id),
            options=options,
        )

    return make


def step(run_id: str, user_id: str, *, remaining_ms: int = STEP_MS) -> StepReply:
    return service.advance(
        StepCommand.model_validate({"run_id": run_id, "user_id": user_id}), remaining_ms=remaining_ms
    )


def run_to_end(run_id: str, user_id: str, *, max_steps: int = 20) -> list[str]:
    """Step the run as the state machine would until it is no longer running; the statuses seen."""
    statuses = []
    for _ in range(max_steps):
        statuses.append(step(run_id, user_id).status.value)
        if statuses[-1] != "running":
            return statuses
    raise AssertionError(f"still running after {max_steps} steps")
