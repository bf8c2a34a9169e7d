"""The registry of executors: one per framework, each advancing a run by one bounded step."""

from __future__ import annotations

from typing import Protocol

from auralink.agents.runs.models import Run, StepOutcome


class Executor(Protocol):
    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        """Advance ``run`` from its checkpoint; return before ``deadline_ms`` of wall time elapse."""
        ...


_EXECUTORS: dict[str, Executor] = {}


def register_executor(framework: str, executor: Executor) -> None:
    _EXECUTORS[framework] = executor


def unregister_executor(framework: str) -> None:
    _EXECUTORS.pop(framework, None)


def executor_for(framework: str) -> Executor | None:
    return _EXECUTORS.get(framework)
