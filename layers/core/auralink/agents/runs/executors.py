"""The registry of executors: one per framework, each advancing a run by one bounded step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from auralink.agents.runs.models import Run, StepOutcome


class Executor(Protocol):
    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        """Advance ``run`` from its checkpoint; return before ``deadline_ms`` of wall time elapse."""
        ...


@runtime_checkable
class KeepsRunState(Protocol):
    """An executor with state of its own per run (LangGraph's checkpoints), dropped only once the
    run's end is recorded: a step that dies before that is done again from that state."""

    def forget(self, run: Run) -> None: ...


_EXECUTORS: dict[str, Executor] = {}
_FACTORIES: dict[str, Callable[[], Executor]] = {}


def register_executor(framework: str, executor: Executor) -> None:
    _EXECUTORS[framework] = executor


def register_executor_factory(framework: str, factory: Callable[[], Executor]) -> None:
    """An executor made on the first run of its framework: a container that steps only runs of
    other frameworks never imports this one's (AutoGen costs ~0.4 s of cold start)."""
    _FACTORIES[framework] = factory


def unregister_executor(framework: str) -> None:
    _EXECUTORS.pop(framework, None)
    _FACTORIES.pop(framework, None)


def executor_for(framework: str) -> Executor | None:
    if framework not in _EXECUTORS and framework in _FACTORIES:
        _EXECUTORS[framework] = _FACTORIES[framework]()
    return _EXECUTORS.get(framework)
