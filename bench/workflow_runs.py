"""A five-node workflow through the run machinery against the same graph invoked directly.

The same compiled graph, the same model double (the OpenAI-compatible server on loopback, through
the LLM gateway, so every call is priced and recorded either way), measured three ways:

- direct: `graph.invoke` in-process with LangGraph's in-memory checkpointer;
- step machinery: `runs.service.advance` in-process, as the state machine calls it (claim the run,
  pin the definition, Postgres checkpointer with row-level security, save progress and events);
- whole path: `POST /execute` over HTTP to the local runtime, the real state machine (moto) calling
  the step function, and `GET /runs/{id}` polled every 5 ms until the run succeeds.

Run twice: with a model that answers at once (the machinery's cost laid bare) and with a model that
takes 200 ms a call (still faster than any hosted model).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from langgraph.checkpoint.memory import InMemorySaver

from auralink.agents.langgraph.context import RunContext
from auralink.agents.langgraph.executor import FRAMEWORK, LangGraphExecutor
from auralink.agents.langgraph.graph import compile_workflow, initial_state
from auralink.agents.runs import service
from auralink.agents.runs.executors import register_executor
from auralink.agents.runs.models import StepCommand
from auralink.agents.workflows.definition import WorkflowDefinition
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from tests.fakes.openai_server import LlmServer, Slow, Text, openai_server
from tests.support.runs import create_run

ROOT = Path(__file__).resolve().parents[1]
RUNS = 20
NODES = 5
KEY = "sk-bench-0123456789"
DEFINITION = {
    "entry": "n1",
    "nodes": [
        {"id": f"n{i}", "kind": "llm", "prompt": f"step {i}: {{input.topic}}"} for i in range(1, NODES + 1)
    ],
    "edges": [{"from": f"n{i}", "to": f"n{i + 1}" if i < NODES else "END"} for i in range(1, NODES + 1)],
}


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(action: Callable[[], None], model: LlmServer, delay_s: float) -> list[float]:
    samples = []
    for _ in range(RUNS):
        reply = Text("ok") if delay_s == 0 else Slow(delay_s, Text("ok"))
        model.script.then(*[reply] * NODES)
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def _direct(user: str) -> None:
    definition = WorkflowDefinition.model_validate(DEFINITION)
    now = time.monotonic()
    # No run row: the metrics rows of these calls carry no run id.
    ctx = RunContext(
        user_id=user, run_id=None, model=None, deadline=now + 600, soft_deadline=now + 500, api_base_url=None
    )
    graph = compile_workflow(definition, ctx, InMemorySaver())
    state = graph.invoke(initial_state({"topic": "bench"}), {"configurable": {"thread_id": "bench"}})
    assert len(state["trace"]) == NODES


def _through_steps(user: str, workflow_id: str) -> None:
    run_id = create_run(user, framework=FRAMEWORK, run_input={"topic": "bench"}, workflow_id=workflow_id)
    command = StepCommand.model_validate({"run_id": run_id, "user_id": user})
    while service.advance(command, remaining_ms=900_000).status.value == "running":
        pass


def _through_api(api: httpx.Client, headers: dict[str, str], workflow_id: str) -> None:
    started = api.post(
        f"/api/v1/workflows/{workflow_id}/execute", headers=headers, json={"input": {"topic": "b"}}
    )
    started.raise_for_status()
    run_id = started.json()["run_id"]
    while True:
        status = api.get(f"/api/v1/runs/{run_id}", headers=headers).json()["status"]
        if status == "succeeded":
            return
        if status != "running" and status != "queued":
            raise RuntimeError(f"run {run_id} ended {status}")
        time.sleep(0.005)


def main() -> None:
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
                created = api.post(
                    "/api/v1/workflows", headers=headers, json={"name": "bench", "definition": DEFINITION}
                )
                created.raise_for_status()
                workflow_id = created.json()["workflow_id"]
                # The direct and step-machinery measures run here; the runtime's step has its own.
                register_executor(FRAMEWORK, LangGraphExecutor())
                for delay_s in (0.0, 0.2):
                    model.script.then(*[Text("warm")] * NODES * 3)
                    _direct(user)
                    _through_steps(user, workflow_id)
                    _through_api(api, headers, workflow_id)
                    direct = _median_ms(_timed(lambda: _direct(user), model, delay_s))
                    steps = _median_ms(_timed(lambda: _through_steps(user, workflow_id), model, delay_s))
                    whole = _median_ms(
                        _timed(lambda: _through_api(api, headers, workflow_id), model, delay_s)
                    )
                    title = f"{NODES}-node workflow, model answering in {delay_s * 1000:.0f} ms"
                    print(f"{title}, median of {RUNS} runs:")
                    print(f"  direct (graph.invoke, in-memory checkpointer): {direct:8.1f} ms")
                    print(f"  step machinery (advance, Postgres):  {steps:8.1f} ms  ({steps / direct:.2f}x)")
                    print(f"  whole path (HTTP, state machine):    {whole:8.1f} ms  ({whole / direct:.2f}x)")
        finally:
            runtime.stop()


if __name__ == "__main__":
    main()
