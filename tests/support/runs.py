"""Test executors and run rows for the framework-neutral run machinery."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from auralink.agents.runs import repository
from auralink.agents.runs.executors import Executor, executor_for, register_executor, unregister_executor
from auralink.agents.runs.models import Run, RunError, RunStatus, StepOutcome
from auralink.db import tenant_transaction


@contextmanager
def executor_in_place[E: Executor](framework: str, executor: E) -> Iterator[E]:
    """``executor`` serves ``framework`` for the block; whatever served it before does again after."""
    previous = executor_for(framework)
    register_executor(framework, executor)
    try:
        yield executor
    finally:
        if previous is None:
            unregister_executor(framework)
        else:
            register_executor(framework, previous)


class StepDied(Exception):
    """A step's death after its work was saved and before the run recorded its outcome."""


@contextmanager
def outcome_lost() -> Iterator[None]:
    """Steps taken in the block die as they record their outcome (`StepDied` is raised); the
    state machine would do such a step once more."""

    def died(*args: object) -> None:
        raise StepDied

    saved = repository.save_outcome
    repository.save_outcome = died  # type: ignore[assignment]
    try:
        yield
    finally:
        repository.save_outcome = saved


# The smallest graph a workflow row can hold; the scripted executor below never reads it.
MINIMAL_DEFINITION = {
    "entry": "a",
    "nodes": [{"id": "a", "kind": "llm", "prompt": "Say hi to {input.name}"}],
    "edges": [{"from": "a", "to": "END"}],
}


@dataclass
class CountingExecutor:
    """Needs ``steps`` steps; each one records an event, the last one the output."""

    steps: int = 3
    seen: list[tuple[str, int]] = field(default_factory=list)

    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        assert deadline_ms > 0
        done = run.steps_done + 1
        self.seen.append((str(run.run_id), run.steps_done))
        event = {"type": "node_finished", "node": f"step-{done}"}
        if done < self.steps:
            return StepOutcome(status=RunStatus.RUNNING, progress={"steps_done": done}, events=[event])
        return StepOutcome(
            status=RunStatus.SUCCEEDED,
            progress={"steps_done": done},
            events=[event],
            output={"total": done, "input": run.input},
        )


class RaisingExecutor:
    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        raise RuntimeError("api_key=sk-leaked-in-a-traceback")


class FailingExecutor:
    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        return StepOutcome(
            status=RunStatus.FAILED, error=RunError(code="model_error", message="The model refused")
        )


def create_run(
    user_id: str,
    *,
    framework: str,
    run_input: dict[str, Any] | None = None,
    workflow_id: str | None = None,
    options: dict[str, Any] | None = None,
) -> str:
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            "INSERT INTO workflow_executions (user_id, framework, input, workflow_id, options)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id::text AS id",
            (user_id, framework, Jsonb(run_input or {}), workflow_id, Jsonb(options or {})),
        ).fetchone()
    assert row is not None
    return str(row["id"])


def read_run(user_id: str, run_id: str) -> dict[str, Any]:
    with tenant_transaction(user_id) as conn:
        row = conn.execute("SELECT * FROM workflow_executions WHERE id = %s::uuid", (run_id,)).fetchone()
    assert row is not None
    return dict(row)


def request_cancel(user_id: str, run_id: str) -> None:
    with tenant_transaction(user_id) as conn:
        conn.execute("UPDATE workflow_executions SET cancel_requested = true WHERE id = %s::uuid", (run_id,))


def create_workflow(user_id: str, *, name: str = "greeter", definition: dict[str, Any] | None = None) -> str:
    """A workflow row, written directly (the workflow API is not needed to run one)."""
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            "INSERT INTO agent_workflows (user_id, name, definition) VALUES (%s, %s, %s)"
            " RETURNING id::text AS id",
            (user_id, name, Jsonb(definition or MINIMAL_DEFINITION)),
        ).fetchone()
    assert row is not None
    return str(row["id"])


@dataclass
class ScriptedExecutor:
    """Does what the run's input says, so that one registered executor serves every test.

    - ``{"script": "ask", "input_schema": {...}?}``: waits for input (progress.waiting_for), then
      succeeds with the answer as output;
    - ``{"script": "slow", "steps": n}``: n steps of ``delay_s`` each; a step that sees a cancel
      request stops early (as an executor does between nodes);
    - anything else: succeeds at once with the input as output.
    """

    delay_s: float = 0.05
    seen: list[tuple[str, int]] = field(default_factory=list)

    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        self.seen.append((str(run.run_id), run.steps_done))
        script = run.input.get("script")
        if script == "ask":
            return self._ask(run)
        if script == "slow":
            return self._slow(run, int(run.input.get("steps", 10)))
        return StepOutcome(status=RunStatus.SUCCEEDED, progress={"current_node": "a"}, output=run.input)

    def _ask(self, run: Run) -> StepOutcome:
        if run.has_resume_input:
            event = {"type": "node_finished", "node": "ask"}
            return StepOutcome(
                status=RunStatus.SUCCEEDED,
                progress={"current_node": "ask"},
                events=[event],
                output=run.resume_input,
            )
        waiting_for: dict[str, Any] = {"node": "ask", "prompt": "Approve?"}
        if "input_schema" in run.input:
            waiting_for["input_schema"] = run.input["input_schema"]
        return StepOutcome(
            status=RunStatus.WAITING_FOR_INPUT,
            progress={"current_node": "ask", "waiting_for": waiting_for},
            events=[{"type": "node_started", "node": "ask"}],
        )

    def _slow(self, run: Run, steps: int) -> StepOutcome:
        node = f"n{run.steps_done + 1}"
        for _ in range(5):
            time.sleep(self.delay_s / 5)
            with tenant_transaction(run.user_id) as conn:
                cancel_requested = repository.cancel_requested(conn, run.run_id)
            if cancel_requested:
                return StepOutcome(status=RunStatus.RUNNING, progress={"current_node": node})
        event = {"type": "node_finished", "node": node}
        if run.steps_done + 1 < steps:
            return StepOutcome(status=RunStatus.RUNNING, progress={"current_node": node}, events=[event])
        return StepOutcome(
            status=RunStatus.SUCCEEDED, progress={"current_node": node}, events=[event], output=node
        )


# ------------------------------------------------------------------------------------------------
# Executors installed inside the local runtime's environments (its `environment_setup` hooks): a
# test module names the hook in `ENVIRONMENT_SETUP` and the run step's environments call it once
# their handler is loaded, replacing what the handler registered.

# Workflow runs played by the scripted executor.
SCRIPTED_WORKFLOWS = ("tests.support.runs:script_workflow_runs",)
THREE_STEPS = "test-three-steps"
REFUSING = "test-refusing"
UNSAVEABLE = "test-unsaveable"


class ThreeSteps:
    """Succeeds with `{"answer": 42}` at its third step."""

    steps = 3

    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        done = run.steps_done + 1
        if done < self.steps:
            return StepOutcome(status=RunStatus.RUNNING, progress={"steps_done": done})
        return StepOutcome(status=RunStatus.SUCCEEDED, progress={"steps_done": done}, output={"answer": 42})


class Refusing:
    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        return StepOutcome(status=RunStatus.FAILED, error=RunError(code="refused", message="No"))


class Unsaveable:
    """Its output cannot be stored: the step task itself fails, which the state machine catches."""

    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        return StepOutcome(status=RunStatus.SUCCEEDED, output={"not json": {1, 2}})


def script_workflow_runs() -> None:
    """Workflow runs are played by `ScriptedExecutor` (their input says what to do)."""
    from auralink.agents.runs.control import WORKFLOW_FRAMEWORK  # noqa: PLC0415

    register_executor(WORKFLOW_FRAMEWORK, ScriptedExecutor())


def install_test_executors() -> None:
    """The test frameworks above, each under its own name."""
    register_executor(THREE_STEPS, ThreeSteps())
    register_executor(REFUSING, Refusing())
    register_executor(UNSAVEABLE, Unsaveable())


def create_unstarted_run(
    user_id: str,
    *,
    framework: str,
    workflow_id: str | None = None,
    run_input: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    waited_s: float = 0,
    resumed_with: Any = None,
    resumed: bool = False,
    run_id: str | None = None,
) -> str:
    """A run as a function that died before starting its execution leaves it, ``waited_s`` ago.

    Queued with its first execution counted, as the API records it; or, with ``resumed``, running
    with the answer ``resumed_with`` and its second execution counted, as a resume records it. No
    execution ARN either way. (Inserted, not updated: an update would stamp ``updated_at`` now.)
    """
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            """
            INSERT INTO workflow_executions
                (id, user_id, framework, workflow_id, input, idempotency_key, status, executions,
                 resume_input, started_at, created_at, updated_at)
            SELECT coalesce(%(run_id)s::uuid, gen_random_uuid()), %(user_id)s, %(framework)s,
                   %(workflow_id)s::uuid, %(input)s, %(key)s, %(status)s, %(executions)s, %(resume_input)s,
                   CASE WHEN %(resumed)s THEN at END, at, at
              FROM (SELECT now() - make_interval(secs => %(waited_s)s) AS at) AS backdated
            RETURNING id::text AS id
            """,
            {
                "run_id": run_id,
                "user_id": user_id,
                "framework": framework,
                "workflow_id": workflow_id,
                "input": Jsonb(run_input or {}),
                "key": idempotency_key,
                "status": "running" if resumed else "queued",
                "executions": 2 if resumed else 1,
                "resume_input": Jsonb({"value": resumed_with}) if resumed else None,
                "resumed": resumed,
                "waited_s": waited_s,
            },
        ).fetchone()
    assert row is not None
    return str(row["id"])
