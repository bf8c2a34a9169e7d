"""Test executors and run rows for the framework-neutral run machinery."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from auralink.agents.runs.models import Run, RunError, RunStatus, StepOutcome
from auralink.db import tenant_transaction


@dataclass
class CountingExecutor:
    """Needs ``steps`` steps; each one records an event, the last one the output."""

    steps: int = 3
    seen: list[tuple[str, int]] = field(default_factory=list)

    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        assert deadline_ms > 0
        done = run.steps_done + 1
        self.seen.append((run.run_id, run.steps_done))
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


def create_run(user_id: str, *, framework: str, run_input: dict[str, Any] | None = None) -> str:
    with tenant_transaction(user_id) as conn:
        row = conn.execute(
            "INSERT INTO workflow_executions (user_id, framework, input) VALUES (%s, %s, %s)"
            " RETURNING id::text AS id",
            (user_id, framework, Jsonb(run_input or {})),
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
