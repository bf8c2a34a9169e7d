"""The crew step in-process, timed by part: what bench/crew_runs.py runs as its step machinery.

Run by that benchmark in CrewAI's interpreter (`.venv-crewai`) with CrewStepFunction's variables
and path: `python bench/crew_step.py <the handler's app.py>`. It loads the handler module as
Lambda does (which registers the crew executor), prints `result {"ready": true}`, then for each line
`<run id> <user id>` that it reads advances that run with `service.advance` until it ends and
prints `result <json>`: the status, the steps' time and the time spent in each part.

The parts are timed by wrapping, in this process only, the functions the step calls: CrewAI's
crew construction and kickoff, the API client, the run token, the event bus flush, and every
database transaction, named by the function that opens it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

spent: defaultdict[str, float] = defaultdict(float)
calls: defaultdict[str, int] = defaultdict(int)
# Who opens a transaction (the function whose `with` it is) → what it is for.
TRANSACTIONS = {
    "advance": "transaction: the pinned plan and the conversation read",
    "_tasks": "transactions: the bounds read and each task assigned (its handoff and progress)",
    "_save_task": "transactions: each task's output written and its turn saved",
    "_review_answer": "transactions: a review answered (its feedback, or the output accepted)",
    "close": "transaction: the stop message",
    "_advance": "transactions: claiming the run, saving the outcome",
    "_record_final": "transaction: the run's totals for its metrics",
}


def _record(part: str, seconds: float) -> None:
    spent[part] += seconds
    calls[part] += 1


def _timed(part: str | Callable[..., str], function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` timed under ``part``, or under the name that ``part`` gives its arguments."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        name = part if isinstance(part, str) else part(*args, **kwargs)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _record(name, time.perf_counter() - started)

    return timed


def _kickoff(*_: Any, **__: Any) -> str:
    done = sum(count for part, count in calls.items() if part.startswith("CrewAI's kickoff"))
    return f"CrewAI's kickoff of task {done + 1}"


def _opener() -> str:
    frame = sys._getframe(2)
    while frame.f_back is not None and frame.f_code.co_filename.endswith(("contextlib.py", "connection.py")):
        frame = frame.f_back
    return TRANSACTIONS.get(frame.f_code.co_name, f"transactions: {frame.f_code.co_name}")


def _instrument() -> None:
    from crewai import Crew  # noqa: PLC0415  # after the handler, as the step imports it

    from auralink import run_tokens  # noqa: PLC0415
    from auralink.agents.crewai import executor  # noqa: PLC0415
    from auralink.agents.crewai.api import RunApi  # noqa: PLC0415
    from auralink.agents.crewai.crew import CrewBuilder  # noqa: PLC0415
    from auralink.db import connection  # noqa: PLC0415

    transaction = connection._transaction

    @contextmanager
    def timed_transaction(user_id: str) -> Iterator[Any]:
        part = _opener()
        started = time.perf_counter()
        with transaction(user_id) as conn:
            yield conn
        _record(part, time.perf_counter() - started)

    connection._transaction = timed_transaction
    Crew.kickoff = _timed(_kickoff, Crew.kickoff)
    CrewBuilder.crew = _timed(lambda _, index, *__: f"the crew built for task {index + 1}", CrewBuilder.crew)
    # Inside the first crew built: the step's one model client (CrewAI's LLM, per model).
    CrewBuilder.llm = _timed("of which CrewAI's LLM, built once a step (its OpenAI clients)", CrewBuilder.llm)
    RunApi.__init__ = _timed("the API client (RunApi)", RunApi.__init__)
    run_tokens.mint = _timed("the run token", run_tokens.mint)
    executor.crewai_event_bus.flush = _timed("CrewAI's event bus flush", executor.crewai_event_bus.flush)


def main() -> None:
    handler = Path(sys.argv[1])
    spec = importlib.util.spec_from_file_location("crew_step_app", handler)
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    from auralink.agents.runs import service  # noqa: PLC0415
    from auralink.agents.runs.models import StepCommand  # noqa: PLC0415

    _instrument()
    print("result " + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        run_id, user_id = line.split()
        spent.clear()
        calls.clear()
        command = StepCommand.model_validate({"run_id": run_id, "user_id": user_id})
        started = time.perf_counter()
        while (status := service.advance(command, remaining_ms=900_000).status.value) == "running":
            pass
        elapsed = time.perf_counter() - started
        parts = {part: [seconds, calls[part]] for part, seconds in spent.items()}
        print("result " + json.dumps({"status": status, "seconds": elapsed, "parts": parts}), flush=True)


if __name__ == "__main__":
    main()
