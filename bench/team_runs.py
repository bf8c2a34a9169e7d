"""A six-message round-robin team through the run machinery against the same team run directly;
and the cold import of the team step.

The same two members, the same model double (the OpenAI-compatible server on loopback, through
the LLM gateway's AutoGen client, so every call is priced and recorded either way), measured three
ways:

- direct: the team built by `build_team` and run once with `team.run`, stopped by AutoGen's own
  `MaxMessageTermination` after six member messages, nothing saved;
- step machinery: `runs.service.advance` in-process, as the state machine calls it, on a run
  recorded as the execute route records it (claim the run, read its pinned definition, one turn
  per `run_stream`, each message written as it comes, the team's state saved after each turn);
- whole path: `POST /teams/{id}/execute` over HTTP to the local runtime, the real state machine
  (moto) calling the step function, and `GET /runs/{id}` polled every 5 ms until the run succeeds.

Run twice: with a model that answers at once (the machinery's cost laid bare) and with a model that
takes 200 ms a call (still faster than any hosted model).

The cold import: fresh interpreters (as new Lambda containers) importing the AutoGen executor
alone, and the run step's handler module followed by the executor, which the handler imports only
when it first steps a team's run.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import httpx
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.teams import RoundRobinGroupChat

from auralink.agents.autogen.executor import FRAMEWORK, AutoGenExecutor
from auralink.agents.autogen.team import build_team
from auralink.agents.runs import repository as runs
from auralink.agents.runs import service
from auralink.agents.runs.executors import register_executor
from auralink.agents.runs.models import StepCommand
from auralink.agents.teams import conversations
from auralink.agents.teams.models import TeamDefinition
from auralink.agents.teams.service import runnable_definition
from auralink.agents.tools.base import ToolContext
from auralink.auth import Identity
from auralink.db import tenant_transaction
from auralink.llm import gateway
from auralink.llm.factories.autogen import AuraLinkModelClient
from bench.cold_start import ENVIRONMENT
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from tests.fakes.openai_server import LlmServer, Slow, Text, openai_server

ROOT = Path(__file__).resolve().parents[1]
RUNS = 20
MESSAGES = 6
IMPORT_SAMPLES = int(os.environ.get("BENCH_SAMPLES", "9"))
KEY = "sk-bench-0123456789"
TASK = "Plan a picnic"
TEAM = {
    "team_name": "bench",
    "collaboration_mode": "round_robin",
    "members": [
        {"name": "planner", "description": "Plans the day"},
        {"name": "critic", "description": "Finds what the plan lacks"},
    ],
    "termination": {"max_messages": MESSAGES},
}


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(action: Callable[[], None], model: LlmServer, delay_s: float) -> list[float]:
    samples = []
    for _ in range(RUNS):
        reply = Text("ok") if delay_s == 0 else Slow(delay_s, Text("ok"))
        model.script.then(*[reply] * MESSAGES)
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def _direct(user: str, definition: TeamDefinition) -> None:
    deadline = time.monotonic() + 600
    # No run: the metrics rows of these calls carry no run id.
    client = AuraLinkModelClient(user, gateway.model_for(user, None), deadline=deadline)
    built = build_team(
        definition,
        user_id=user,
        model_client=lambda _model_id: client,
        tool_context=lambda: ToolContext(identity=Identity(sub=user), run_id=None, deadline=deadline),
    )
    # build_team bounds every team to one turn a call (the executor's unit of saving); its members
    # go into a team bounded by AutoGen alone instead, whose count includes the task message.
    assert isinstance(built, RoundRobinGroupChat)
    team = RoundRobinGroupChat(built._participants, termination_condition=MaxMessageTermination(MESSAGES + 1))
    result = asyncio.run(team.run(task=TASK))
    assert len(result.messages) == MESSAGES + 1, result.stop_reason


def _through_steps(user: str, team_id: str) -> None:
    # Recorded as the execute route records a run (without starting the state machine).
    definition = runnable_definition(user, team_id)
    with tenant_transaction(user) as conn:
        run_id = runs.insert_run(
            conn,
            user_id=user,
            framework=FRAMEWORK,
            run_input={"task_description": TASK, "additional_context": {}},
            options={},
            idempotency_key=None,
            team_id=UUID(team_id),
            definition=definition.model_dump(mode="json", by_alias=True),
        )
        assert run_id is not None
        conversations.insert(conn, user_id=user, team_id=UUID(team_id), run_id=run_id, task=TASK, context={})
    command = StepCommand.model_validate({"run_id": run_id, "user_id": user})
    while (status := service.advance(command, remaining_ms=900_000).status.value) == "running":
        pass
    assert status == "succeeded", status


def _through_api(api: httpx.Client, headers: dict[str, str], team_id: str) -> None:
    started = api.post(f"/api/v1/teams/{team_id}/execute", headers=headers, json={"task_description": TASK})
    started.raise_for_status()
    run_id = started.json()["run_id"]
    while True:
        status = api.get(f"/api/v1/runs/{run_id}", headers=headers).json()["status"]
        if status == "succeeded":
            return
        if status != "running" and status != "queued":
            raise RuntimeError(f"run {run_id} ended {status}")
        time.sleep(0.005)


def _runs() -> None:
    with tempfile.TemporaryDirectory() as data, openai_server(api_key=KEY) as model:
        runtime = LocalRuntime(ROOT, port=0, schedules=False, data_dir=Path(data))
        runtime.start()
        try:
            user = f"bench-{uuid.uuid4().hex[:8]}"
            headers = {"Authorization": f"Bearer {mint_dev_token(user)}"}
            with httpx.Client(base_url=runtime.url, timeout=60) as api:
                api.put(
                    "/api/v1/llm/preferences",
                    headers=headers,
                    json={
                        "default_model": "openai/gpt-5.4-mini",
                        "providers": {"openai": {"api_key": KEY, "base_url": model.base_url + "/v1"}},
                    },
                ).raise_for_status()
                created = api.post("/api/v1/teams", headers=headers, json=TEAM)
                created.raise_for_status()
                team_id = created.json()["team_id"]
                definition = runnable_definition(user, team_id)
                # The direct and step-machinery measures run here; the runtime's step has its own.
                register_executor(FRAMEWORK, AutoGenExecutor())
                for delay_s in (0.0, 0.2):
                    model.script.then(*[Text("warm")] * MESSAGES * 3)
                    _direct(user, definition)
                    _through_steps(user, team_id)
                    _through_api(api, headers, team_id)
                    direct = _median_ms(_timed(lambda: _direct(user, definition), model, delay_s))
                    steps = _median_ms(_timed(lambda: _through_steps(user, team_id), model, delay_s))
                    whole = _median_ms(_timed(lambda: _through_api(api, headers, team_id), model, delay_s))
                    title = f"{MESSAGES}-message round-robin team, model answering in {delay_s * 1000:.0f} ms"
                    print(f"{title}, median of {RUNS} runs:")
                    print(f"  direct (team.run, nothing saved):    {direct:8.1f} ms")
                    print(f"  step machinery (advance, Postgres):  {steps:8.1f} ms  ({steps / direct:.2f}x)")
                    print(f"  whole path (HTTP, state machine):    {whole:8.1f} ms  ({whole / direct:.2f}x)")
        finally:
            runtime.stop()


# ------------------------------------------------------------------------------ the cold import

EXECUTOR = """
import time
t0 = time.perf_counter()
import auralink.agents.autogen.executor
print(time.perf_counter() - t0, 0.0)
"""

# The handler module loaded as Lambda loads it, then what its first team run imports.
STEP_THEN_EXECUTOR = """
import importlib.util, time
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("run_step_app", STEP_PATH)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t1 = time.perf_counter()
import auralink.agents.autogen.executor
print(t1 - t0, time.perf_counter() - t1)
"""


def _import_sample(source: str) -> tuple[float, float]:
    program = f"STEP_PATH = {str(ROOT / 'functions/steps/run_step/app.py')!r}\n{source}"
    result = subprocess.run(
        [sys.executable, "-c", program],
        env={**os.environ, **ENVIRONMENT},
        capture_output=True,
        text=True,
        check=True,
    )
    first, second = (float(part) for part in result.stdout.split()[-2:])
    return first, second


def _cold_import() -> None:
    # A first import of each writes whatever bytecode is missing: the samples then load .pyc files.
    _import_sample(EXECUTOR)
    _import_sample(STEP_THEN_EXECUTOR)
    alone, step, after_step = [], [], []
    for _ in range(IMPORT_SAMPLES):
        alone.append(_import_sample(EXECUTOR)[0])
        handler, team = _import_sample(STEP_THEN_EXECUTOR)
        step.append(handler)
        after_step.append(team)
    version = sys.version.split()[0]
    print(f"cold import with bytecode, median of {IMPORT_SAMPLES} fresh interpreters ({version}):")
    print(f"  auralink.agents.autogen.executor alone:        {_median_ms(alone):7.1f} ms")
    print(f"  functions/steps/run_step/app.py (no AutoGen):  {_median_ms(step):7.1f} ms")
    print(f"  the executor, imported after the handler:      {_median_ms(after_step):7.1f} ms")


def main() -> None:
    _cold_import()
    _runs()


if __name__ == "__main__":
    main()
