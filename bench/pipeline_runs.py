"""A five-step pipeline through the run machinery on Prefect against the same five tool calls made
directly, and where the difference goes.

The pipeline chains five calculator steps (each one's expression uses the one before's result), so
that the tasks run one after the other, as five calls in a row do. Measured two ways:

- direct: the five calls through the tool catalog (`catalog.call`) in a row, in-process (each
  recorded in the tool call log, as the run's are);
- step machinery: `runs.service.advance` in-process, as the state machine calls it, on a run
  recorded as the execute route records it: one run step that claims the run, reads its pinned
  definition, creates the run's Prefect flow run on the local Prefect server and runs it, each
  step a task whose result is persisted, its task runs mirrored in Postgres as they change.

Then one more set of runs, instrumented: the HTTP requests the step makes to the Prefect API, by
endpoint, and the events it emits (task runs' states reach Prefect as events over a websocket, in
the background); and where a run step's time goes: the tool calls, the mirror's writes, the Prefect
API requests made while the flow waits on them, and the flow's end (from the last task's result
to the step's return).
"""

from __future__ import annotations

import re
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from prefect.client import base as prefect_http
from prefect.events.worker import EventsWorker

from auralink.agents.pipelines import flow_runs
from auralink.agents.prefect import executor as prefect_executor
from auralink.agents.prefect import mirror, work
from auralink.agents.prefect.executor import FRAMEWORK, PrefectExecutor
from auralink.agents.runs import repository as runs
from auralink.agents.runs import service
from auralink.agents.runs.executors import register_executor
from auralink.agents.runs.models import StepCommand
from auralink.agents.tools import catalog
from auralink.agents.tools.base import ToolContext
from auralink.auth import Identity
from auralink.db import tenant_transaction
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token

ROOT = Path(__file__).resolve().parents[1]
RUNS = 10
STEPS = 5
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _expression(index: int, previous: int | None) -> str:
    return "1 + 1" if previous is None else f"{previous} * 2 + {index}"


DEFINITION = {
    "steps": [
        {"id": "s1", "kind": "tool", "tool": "calculator", "arguments": {"expression": "1 + 1"}},
        *(
            {
                "id": f"s{i}",
                "kind": "tool",
                "tool": "calculator",
                "depends_on": [f"s{i - 1}"],
                "arguments": {"expression": f"{{steps.s{i - 1}.output.result}} * 2 + {i}"},
            }
            for i in range(2, STEPS + 1)
        ),
    ]
}


def _percentiles_ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p90 = ordered[max(int(len(ordered) * 0.9) - 1, 0)]
    return statistics.median(ordered) * 1000, p90 * 1000


def _direct(user: str) -> None:
    context = ToolContext(identity=Identity(sub=user), run_id=None, deadline=time.monotonic() + 600)
    previous: int | None = None
    for index in range(1, STEPS + 1):
        output = catalog.call(context, "calculator", {"expression": _expression(index, previous)})
        assert not output.is_error and output.structured is not None, output.text
        previous = int(output.structured["result"])


def _record_run(user: str, pipeline_id: str) -> str:
    """A run recorded as the execute route records one, the state machine not started."""
    with tenant_transaction(user) as conn:
        pipeline = conn.execute(
            "SELECT version, definition FROM prefect_flows WHERE id = %s::uuid", (pipeline_id,)
        ).fetchone()
        assert pipeline is not None
        run_id = runs.insert_run(
            conn,
            user_id=user,
            framework=FRAMEWORK,
            run_input={"parameters": {}},
            options={},
            idempotency_key=None,
            pipeline_id=uuid.UUID(pipeline_id),
            definition={"version": pipeline["version"], **pipeline["definition"]},
        )
        assert run_id is not None
        flow_runs.insert(conn, user_id=user, pipeline_id=uuid.UUID(pipeline_id), run_id=run_id, parameters={})
    return str(run_id)


def _through_steps(user: str, pipeline_id: str) -> None:
    run_id = _record_run(user, pipeline_id)
    command = StepCommand.model_validate({"run_id": run_id, "user_id": user})
    status = service.advance(command, remaining_ms=900_000).status.value
    assert status == "succeeded", status


def _timed(action: Callable[[], None]) -> list[float]:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


class _Breakdown:
    """What one instrumented run step did: its Prefect requests and events, and its time by part."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.last_task_end = 0.0

    def add(self, part: str, seconds: float) -> None:
        with self.lock:
            self.seconds[part] += seconds


@contextmanager
def _wrapped(
    owner: Any, name: str, wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, wrapper(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextmanager
def _instrumented(breakdown: _Breakdown) -> Iterator[None]:
    def timed_request(send: Callable[..., Any]) -> Callable[..., Any]:
        def counted(self: Any, request: httpx.Request, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return send(self, request, *args, **kwargs)
            finally:
                endpoint = f"{request.method} {_ID.sub('{id}', request.url.path)}"
                with breakdown.lock:
                    breakdown.requests[endpoint] += 1
                # Requests on the flow's thread hold the step; the log worker's do not.
                if threading.current_thread() is threading.main_thread():
                    breakdown.add("Prefect API requests (blocking)", time.perf_counter() - started)

        return counted

    def timed_async_request(send: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(self: Any, request: httpx.Request, *args: Any, **kwargs: Any) -> Any:
            try:
                return await send(self, request, *args, **kwargs)
            finally:
                endpoint = f"{request.method} {_ID.sub('{id}', request.url.path)} (background)"
                with breakdown.lock:
                    breakdown.requests[endpoint] += 1

        return counted

    def counted_event(send: Callable[..., Any]) -> Callable[..., Any]:
        def counted(self: Any, event: Any) -> Any:
            with breakdown.lock:
                breakdown.events[event.event] += 1
            return send(self, event)

        return counted

    def timed_part(part: str, *, task: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrapper(call: Callable[..., Any]) -> Callable[..., Any]:
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return call(*args, **kwargs)
                finally:
                    ended = time.perf_counter()
                    breakdown.add(part, ended - started)
                    if task:
                        breakdown.last_task_end = ended

            return timed

        return wrapper

    with (
        _wrapped(prefect_http.PrefectHttpxSyncClient, "send", timed_request),
        _wrapped(prefect_http.PrefectHttpxAsyncClient, "send", timed_async_request),
        _wrapped(EventsWorker, "send", counted_event),
        _wrapped(work, "run", timed_part("tool calls (work.run)", task=True)),
        _wrapped(mirror.TaskRunMirror, "_save_locked", timed_part("task run mirror writes")),
        _wrapped(prefect_executor, "run_flow", timed_part("run_flow")),
        _wrapped(prefect_executor.APILogWorker, "drain_all", timed_part("log worker drain")),
        _wrapped(prefect_executor.EventsWorker, "drain_all", timed_part("events worker drain")),
    ):
        yield


def _explained(user: str, pipeline_id: str) -> tuple[_Breakdown, list[float], list[float]]:
    breakdown = _Breakdown()
    totals, tails = [], []
    with _instrumented(breakdown):
        for _ in range(RUNS):
            started = time.perf_counter()
            _through_steps(user, pipeline_id)
            ended = time.perf_counter()
            totals.append(ended - started)
            tails.append(ended - breakdown.last_task_end)
    return breakdown, totals, tails


def _report(direct: list[float], steps: list[float], user: str, pipeline_id: str) -> None:
    direct_median, direct_p90 = _percentiles_ms(direct)
    steps_median, steps_p90 = _percentiles_ms(steps)
    print(f"{STEPS}-step chained calculator pipeline, {RUNS} runs each way (median, p90):")
    print(f"  direct (catalog.call x{STEPS}):        {direct_median:8.1f} ms  {direct_p90:8.1f} ms")
    print(
        f"  one run step on Prefect (advance):  {steps_median:8.1f} ms  {steps_p90:8.1f} ms"
        f"  ({steps_median / direct_median:.1f}x)"
    )
    breakdown, totals, tails = _explained(user, pipeline_id)
    print(f"Prefect API requests of one run ({RUNS} runs averaged; {STEPS} tasks a run):")
    for endpoint, count in sorted(breakdown.requests.items()):
        print(f"  {count / RUNS:5.1f}  {endpoint}")
    print("Events a run emits (sent over the events websocket in the background):")
    for name, count in sorted(breakdown.events.items()):
        print(f"  {count / RUNS:5.1f}  {name}")
    total_ms = statistics.mean(totals) * 1000
    print(f"Where a run step's {total_ms:.0f} ms go (mean of {RUNS} instrumented runs):")
    for part, seconds in sorted(breakdown.seconds.items()):
        print(f"  {seconds / RUNS * 1000:8.1f} ms  {part}")
    print(f"  {statistics.mean(tails) * 1000:8.1f} ms  from the last task's result to the step's return")


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        runtime = LocalRuntime(
            ROOT, port=0, schedules=False, data_dir=Path(data) / "pg", prefect_dir=Path(data) / "prefect"
        )
        runtime.start()
        try:
            assert runtime.prefect_server is not None
            runtime.prefect_server.wait_until_ready()
            user = f"bench-{uuid.uuid4().hex[:8]}"
            headers = {"Authorization": f"Bearer {mint_dev_token(user)}"}
            with httpx.Client(base_url=runtime.url, timeout=60) as api:
                created = api.post(
                    "/api/v1/pipelines", headers=headers, json={"name": "bench", "definition": DEFINITION}
                )
                created.raise_for_status()
                pipeline_id = created.json()["pipeline_id"]
            # The runs step here, in-process; the runtime serves the database and the Prefect API.
            register_executor(FRAMEWORK, PrefectExecutor())
            _direct(user)
            _through_steps(user, pipeline_id)
            direct = _timed(lambda: _direct(user))
            steps = _timed(lambda: _through_steps(user, pipeline_id))
            _report(direct, steps, user, pipeline_id)
        finally:
            runtime.stop()


if __name__ == "__main__":
    main()
