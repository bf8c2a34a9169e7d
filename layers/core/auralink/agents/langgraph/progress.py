"""What a run shows while a step works: the node under way, each node and tool call as it ends.

Written to the run as it happens (not when the step ends), so that a client polling the run sees
an agent node's tool calls one by one. Every write also reads the run's cancel flag, so the step
learns of a cancel between nodes without a query of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from auralink.agents.runs import repository as runs
from auralink.agents.runs.models import Progress, Run
from auralink.agents.tools.base import ToolOutput
from auralink.agents.workflows.definition import WorkflowDefinition
from auralink.db import tenant_transaction


def finished_event(entry: dict[str, Any]) -> dict[str, Any]:
    """The event of a node in the run's trace (its start was shown as it started)."""
    return {
        "type": "node_finished",
        "node": entry["node"],
        "kind": entry["kind"],
        "at": entry["finished_at"],
        "duration_ms": entry["duration_ms"],
    }


class LiveProgress:
    def __init__(self, run: Run, definition: WorkflowDefinition) -> None:
        self._run = run
        self._kinds = {node.id: node.kind for node in definition.nodes}
        # Nodes finished and shown: the trace entries before this index need no event.
        self.shown = run.progress.steps_done or 0
        # The human node that this step resumes with the person's answer, if any.
        self.resuming: str | None = None
        self.cancel_requested = False

    def node_started(self, node_id: str) -> None:
        kind = "node_resumed" if node_id == self.resuming else "node_started"
        self.resuming = None
        event = {"type": kind, "node": node_id, "kind": self._kinds.get(node_id), "at": _now()}
        self._write(Progress(current_node=node_id), [event])

    def nodes_finished(self, entries: list[dict[str, Any]]) -> None:
        self.shown += len(entries)
        self._write(Progress(steps_done=self.shown, current_node=None), [finished_event(e) for e in entries])

    def tool_called(self, node_id: str, tool: str, output: ToolOutput) -> None:
        event: dict[str, Any] = {
            "type": "tool_called",
            "node": node_id,
            "tool": tool,
            "status": "error" if output.is_error else "success",
            "duration_ms": output.latency_ms,
            "at": _now(),
        }
        if output.is_error:
            event["error_code"] = output.error_code
        self._write(Progress(), [event])

    def _write(self, progress: Progress, events: list[dict[str, Any]]) -> None:
        with tenant_transaction(self._run.user_id) as conn:
            cancel_requested = runs.record_progress(conn, self._run.run_id, progress, events)
        if cancel_requested:
            self.cancel_requested = True


def _now() -> str:
    return datetime.now(UTC).isoformat()
