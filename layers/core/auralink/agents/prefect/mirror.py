"""The task runs of a pipeline run as our API shows them, saved as they change.

Each task run (a step, or one item of a map) is an entry `{step, map_index?, state, attempts,
started_at, ended_at, output, error}` of `prefect_flow_runs.task_runs`, with Prefect's state types
(PENDING, RUNNING, RETRYING, COMPLETED, CACHED, FAILED) and SKIPPED for a step a false condition
skipped. Reading a run reads this copy, never Prefect.

Map items run on threads of Prefect's task runner: entries change under a lock, and each change is
saved at once (the database connection is lent to one thread at a time).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from auralink.agents.pipelines import flow_runs
from auralink.agents.tools import truncation
from auralink.db import tenant_transaction
from auralink.settings import get_settings

Key = tuple[str, int | None]
# What an error message of a task run may weigh in the copy.
MAX_ERROR_CHARS = 2000


def _now() -> str:
    return datetime.now(UTC).isoformat()


def capped(output: Any) -> Any:
    """An output as the copy keeps it: cut like a tool's result."""
    cap = get_settings().max_tool_result_bytes
    if isinstance(output, str):
        return truncation.cut_text(output, cap)
    return truncation.cut_structured(output, cap)


class TaskRunMirror:
    def __init__(self, user_id: str, run_id: UUID, saved: list[dict[str, Any]]) -> None:
        self._user_id = user_id
        self._run_id = run_id
        self._lock = threading.Lock()
        self._entries: dict[Key, dict[str, Any]] = {
            (entry["step"], entry.get("map_index")): entry for entry in saved
        }
        self.flow_state = "RUNNING"

    def entry(self, step: str, map_index: int | None) -> dict[str, Any] | None:
        with self._lock:
            found = self._entries.get((step, map_index))
            return None if found is None else dict(found)

    def finished(self, step: str, map_index: int | None) -> bool:
        """Whether the task run completed in an earlier step of this run (its result is kept)."""
        found = self.entry(step, map_index)
        return found is not None and found["state"] in ("COMPLETED", "CACHED")

    def update(self, step: str, map_index: int | None, **fields: Any) -> None:
        with self._lock:
            entry = self._entries.setdefault(
                (step, map_index),
                {
                    "step": step,
                    **({} if map_index is None else {"map_index": map_index}),
                    "state": "PENDING",
                    "attempts": 0,
                    "started_at": None,
                    "ended_at": None,
                    "output": None,
                    "error": None,
                },
            )
            if fields.get("state") == "RUNNING" and entry["started_at"] is None:
                entry["started_at"] = _now()
            if fields.get("state") in ("COMPLETED", "CACHED", "FAILED", "SKIPPED"):
                entry["ended_at"] = _now()
            if "error" in fields and fields["error"] is not None:
                fields["error"] = str(fields["error"])[:MAX_ERROR_CHARS]
            entry.update(fields)
            self._save_locked()

    def save(self, *, flow_state: str, result: Any = None, final: bool = False) -> None:
        with self._lock:
            self.flow_state = flow_state
            self._save_locked(result=result, final=final)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._ordered()]

    def _ordered(self) -> list[dict[str, Any]]:
        return sorted(
            self._entries.values(),
            key=lambda entry: (entry["started_at"] or "~", entry["step"], entry.get("map_index") or 0),
        )

    def _save_locked(self, *, result: Any = None, final: bool = False) -> None:
        with tenant_transaction(self._user_id) as conn:
            flow_runs.record_state(
                conn,
                self._run_id,
                state=self.flow_state,
                task_runs=self._ordered(),
                result=result,
                final=final,
            )
