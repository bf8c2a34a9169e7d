"""Team runs on AutoGen against the real database, the loopback OpenAI-compatible server scripting
the model's turns, and the MCP gateway's test servers.

Steps are driven the way the state machine drives them (`runs.service.advance`), in-process; the
real ASL runs in the e2e tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest

from auralink.agents.autogen.executor import FRAMEWORK, AutoGenExecutor
from auralink.agents.runs import repository as runs
from auralink.agents.runs import service
from auralink.agents.runs.models import StepCommand, StepReply
from auralink.agents.teams import conversations
from auralink.agents.teams.models import TeamRequest
from auralink.agents.teams.service import create_team, runnable_definition
from auralink.auth import Identity
from auralink.db import tenant_transaction
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
from tests.support.runs import executor_in_place

KEY = "sk-team-loopback-1a2b3c4d5e6f7a8b"
MODEL = "openai/gpt-5.4-mini"
STEP_MS = 120_000


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
def executor(tools_env: pytest.MonkeyPatch, hosted_api: str) -> Iterator[AutoGenExecutor]:  # noqa: F811
    tools_env.setenv("PUBLIC_API_URL", hosted_api)
    with executor_in_place(FRAMEWORK, AutoGenExecutor()) as autogen:
        yield autogen


@pytest.fixture
def user(executor: AutoGenExecutor, model: LlmServer, make_user_id: Callable[[], str]) -> str:
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


def member(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "description": f"{name}, a member", **fields}


def start_team(
    user_id: str, team: dict[str, Any], task: str = "Plan a picnic", context: dict[str, Any] | None = None
) -> str:
    """A stored team and a queued run of it on ``task``, recorded as the execute route records it
    (the state machine is not started: the tests step the run themselves)."""
    created = create_team(Identity(sub=user_id), TeamRequest.model_validate({"team_name": "t", **team}))
    definition = runnable_definition(user_id, str(created.team_id))
    with tenant_transaction(user_id) as conn:
        run_id = runs.insert_run(
            conn,
            user_id=user_id,
            framework=FRAMEWORK,
            run_input={"task_description": task, "additional_context": context or {}},
            options={},
            idempotency_key=None,
            team_id=created.team_id,
            definition=definition.model_dump(mode="json", by_alias=True),
        )
        assert run_id is not None
        conversations.insert(
            conn, user_id=user_id, team_id=created.team_id, run_id=run_id, task=task, context=context or {}
        )
    return str(run_id)


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


def messages(user_id: str, run_id: str) -> list[dict[str, Any]]:
    with tenant_transaction(user_id) as conn:
        return conversations.messages_after(conn, UUID(run_id), after=0, limit=1000)
