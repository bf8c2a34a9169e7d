"""What every node of a run needs: whose run it is, which model by default, and the time left."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auralink.agents.tools.base import ToolContext, ToolOutput
from auralink.auth import Identity


class NodeFailed(Exception):
    """A node cannot go on; the run fails with this code and (user-safe) message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OutOfTime(Exception):
    """Too little of the step's time is left for the node's next call; the next step redoes the node."""


@dataclass(frozen=True)
class RunContext:
    user_id: str
    # None only when a graph is invoked outside a run (benchmarks).
    run_id: str | None
    # The run's model, if the execute request named one; a node's own model wins.
    model: str | None
    # time.monotonic() values: calls must end by `deadline`; no new call starts after `soft_deadline`.
    deadline: float
    soft_deadline: float
    api_base_url: str | None
    # Told of each node as it starts and of each tool call as it ends, so that clients see them.
    on_node_start: Callable[[str], object] = lambda node_id: None
    on_tool_call: Callable[[str, str, ToolOutput], object] = lambda node_id, tool, output: None

    def model_for(self, node_model: str | None) -> str | None:
        return node_model or self.model

    def ensure_time(self) -> None:
        if time.monotonic() >= self.soft_deadline:
            raise OutOfTime

    def tool_context(self) -> ToolContext:
        return ToolContext(
            identity=Identity(sub=self.user_id),
            run_id=self.run_id,
            deadline=self.deadline,
            api_base_url=self.api_base_url,
        )


def template_state(state: Any) -> dict[str, Any]:
    """The part of the graph's state that templates and conditions see."""
    return {"input": state.get("input") or {}, "outputs": state.get("outputs") or {}}
