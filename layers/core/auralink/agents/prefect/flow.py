"""A pinned pipeline definition as the body of a Prefect flow.

The steps run in the order of their dependencies, one Prefect task each (a map: one task per
item, at most ``concurrency`` submitted at a time, in waves). Texts are rendered with the workflow
language's templates from the parameters and the outputs so far; a condition is evaluated with its
expressions, and when false its dependents (and theirs) are skipped.

Every task's result is persisted under a cache key: the run, the step and its rendered inputs,
or, for a step with ``cache``, the owner, the step and its rendered inputs alone. The flow run done
again in a later step (the step ran out of time, or died) gets its completed tasks back from
their results, CACHED, without running them again; a ``cache`` step reuses an earlier run's.

Results live where `results.storage_for` says: the run step's S3 storage, or Prefect's default
(the local folder). The body stops after a task whose result the storage could not read or write,
before anything else runs (``results_unavailable``): the step is then done again.

The body stops before a task (a step, or a wave of a map) when a cancel was asked, or when less of
the run step's time is left than the task may take (its timeout, else `DEFAULT_RESERVE_S`; the
first task of a run step always starts); it ends the flow run in a state that says so (CANCELLED;
SCHEDULED: to be continued), and `PipelineFlow` keeps the outcome.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, NoReturn

from prefect import Task
from prefect.client.schemas.objects import State
from prefect.context import TaskRunContext
from prefect.states import Cancelled, Completed, Failed, Scheduled

from auralink.agents.pipelines.definition import (
    ITEM_ROOTS,
    STEP_ROOTS,
    ConditionStep,
    InnerStep,
    LlmInner,
    LlmStep,
    MapStep,
    McpToolStep,
    PipelineDefinition,
    Step,
    TeamInner,
    TeamStep,
    ToolStep,
    WorkflowInner,
    WorkflowStep,
)
from auralink.agents.prefect import work
from auralink.agents.prefect.mirror import TaskRunMirror, capped
from auralink.agents.prefect.results import ResultsUnavailable, S3ResultStorage
from auralink.agents.runs import repository as runs
from auralink.agents.runs.models import RunError
from auralink.agents.workflows import expressions, templates
from auralink.agents.workflows.expression_values import ExpressionError, truthy
from auralink.db import tenant_transaction
from auralink.settings import get_settings

# A step without a timeout is started only with this much of the run step's time left.
DEFAULT_RESERVE_S = 60
_TIMED_OUT = "an attempt took longer than its timeout"
_WAITING = "Waiting for a child run"
_HASHED_CHARS = 32
# A step that runs as a task: every kind but a map (its items are its inner step's tasks) and a
# condition (evaluated in the flow).
Runnable = McpToolStep | ToolStep | LlmStep | WorkflowStep | TeamStep | InnerStep


class _Stop(Exception):
    def __init__(self, state: State) -> None:
        self.state = state


def _digest(value: Any) -> str:
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:_HASHED_CHARS]


def order(definition: PipelineDefinition) -> list[Step]:
    """The steps, each after those it depends on, otherwise in the definition's order."""
    done: set[str] = set()
    ordered: list[Step] = []
    pending = list(definition.steps)
    while pending:
        ready = [step for step in pending if set(step.depends_on) <= done]
        if not ready:  # a cycle: validation refuses them, a pinned definition never has one
            raise ValueError("the steps wait for one another in a cycle")
        for step in ready:
            ordered.append(step)
            done.add(step.id)
        pending = [step for step in pending if step.id not in done]
    return ordered


def _inputs(step: Runnable, state: dict[str, Any]) -> dict[str, Any]:
    """The step's texts rendered (templates over parameters, outputs and the item)."""
    texts: dict[str, Any]
    match step:
        case LlmStep() | LlmInner():
            texts = {"prompt": step.prompt}
        case WorkflowStep() | WorkflowInner():
            texts = {"input": step.input}
        case TeamStep() | TeamInner():
            texts = {"task_description": step.task_description, "additional_context": step.additional_context}
        case _:
            texts = {"arguments": step.arguments}  # the tool kinds
    try:
        rendered = templates.render_value(
            texts, state, max_chars=get_settings().max_rendered_template_chars, roots=ITEM_ROOTS
        )
    except templates.TemplateError as exc:
        raise work.StepFailed(exc.code, str(exc)) from None
    assert isinstance(rendered, dict)
    return rendered


class PipelineFlow:
    """The flow's body for one run step, and what it came to (``outcome``)."""

    def __init__(
        self,
        definition: PipelineDefinition,
        parameters: dict[str, Any],
        ctx: work.RunContext,
        mirror: TaskRunMirror,
        results: S3ResultStorage | None = None,
    ) -> None:
        self.definition = definition
        self.parameters = parameters
        self.ctx = ctx
        self.mirror = mirror
        self.results = results
        self.results_unavailable = False
        self.outputs: dict[str, Any] = {}
        self.skipped: set[str] = set()
        self.output: Any = None
        self.error: RunError | None = None
        self.current: str | None = None
        self._tasks: dict[str, Task[..., Any]] = {}
        self._attempts: dict[tuple[str, int | None], int] = {}
        self._started = False

    # ------------------------------------------------------------------ the body

    def body(self) -> State:
        try:
            for step in order(self.definition):
                self.current = step.id
                self._run(step)
            self.output = self._final_output()
        except _Stop as stop:
            return stop.state
        return Completed()

    def _run(self, step: Step) -> None:
        if set(step.depends_on) & self.skipped:
            self.skipped.add(step.id)
            self.mirror.update(step.id, None, state="SKIPPED")
            return
        if isinstance(step, ConditionStep):
            self._condition(step)
        elif isinstance(step, MapStep):
            self._map(step)
        else:
            self._check_between(step.timeout_seconds, done=self.mirror.finished(step.id, None))
            if self._child_waiting(step.id, step, None):
                raise _Stop(Scheduled(message=_WAITING))
            future = self._task(step.id, step).submit(
                inputs=self._rendered(step, None), step=step.id, map_index=None
            )
            future.wait()
            self.outputs[step.id] = self._settled(step.id, None, future.state)

    def _condition(self, step: ConditionStep) -> None:
        try:
            holds = truthy(expressions.evaluate(step.expression, self._state(), STEP_ROOTS))
        except (ExpressionError, expressions.ExpressionError) as exc:
            self._fail(step.id, None, "expression_error", f"step {step.id}: {exc}")
        if not holds:
            self.skipped.add(step.id)
        self.mirror.update(step.id, None, state="COMPLETED", output=holds)

    def _map(self, step: MapStep) -> None:
        path = step.over.strip()[1:-1]
        try:
            items = templates.lookup(path, self._state(), ITEM_ROOTS)
        except templates.TemplateError as exc:
            self._fail(step.id, None, exc.code, f"step {step.id}: {exc}")
        if not isinstance(items, list):
            self._fail(step.id, None, "map_over_not_a_list", f"step {step.id}: {step.over} is not a list")
        task = self._task(step.id, step.step)
        results: list[Any] = []
        for start in range(0, len(items), step.concurrency):
            wave = range(start, min(start + step.concurrency, len(items)))
            done = all(self.mirror.finished(step.id, index) for index in wave)
            self._check_between(step.step.timeout_seconds, done=done)
            waiting = [index for index in wave if self._child_waiting(step.id, step.step, index)]
            submitted = [index for index in wave if index not in waiting]
            futures = [
                task.submit(inputs=self._rendered(step.step, items[index]), step=step.id, map_index=index)
                for index in submitted
            ]
            for future in futures:
                future.wait()
            settled = [
                self._settled(step.id, index, future.state)
                for index, future in zip(submitted, futures, strict=True)
            ]
            if waiting:
                raise _Stop(Scheduled(message=_WAITING))
            results.extend(settled)
        self.outputs[step.id] = results

    def _check_between(self, timeout_s: int | None, *, done: bool) -> None:
        """Stop before a task when the run is cancelled, or when it might not finish in time.

        Tasks ``done`` in an earlier step of the run come back from their results at once: they
        take none of the step's time."""
        with tenant_transaction(self.ctx.user_id) as conn:
            cancel = runs.cancel_requested(conn, self.ctx.run_id)
        if cancel:
            raise _Stop(Cancelled(message="The run was cancelled"))
        if done:
            return
        # A step always starts some work, whatever its time: a run step shorter than the reserve
        # must still move the run on.
        if self._started and self.ctx.remaining_s() < (timeout_s or DEFAULT_RESERVE_S):
            raise _Stop(Scheduled(message="Continued in the run's next step"))
        self._started = True

    def _child_waiting(self, step: str, spec: Runnable, map_index: int | None) -> bool:
        """Whether the step's child run, started by an earlier attempt, is still under way: the
        flow then stops without a task run (each look would be a failed attempt in Prefect)."""
        if not isinstance(spec, WorkflowStep | TeamStep | WorkflowInner | TeamInner):
            return False
        from auralink.agents.prefect import children  # noqa: PLC0415  # only pipelines with children

        if not children.waiting(self.ctx, key=self._key(step, map_index)):
            return False
        self.mirror.update(step, map_index, state="RUNNING")
        return True

    def _key(self, step: str, map_index: int | None) -> str:
        """The task's own key in this run (a child run's idempotency key is made of it)."""
        name = step if map_index is None else f"{step}[{map_index}]"
        return f"{self.ctx.run_id}:{name}"

    # ------------------------------------------------------------------ tasks

    def _rendered(self, step: Runnable, item: Any) -> dict[str, Any]:
        try:
            return _inputs(step, self._state(item))
        except work.StepFailed as exc:
            return self._fail(self.current or "", None, exc.code, exc.message)

    def _task(self, step_id: str, spec: Runnable) -> Task[..., Any]:
        if step_id not in self._tasks:
            self._tasks[step_id] = Task(
                self._attempt_of(spec),
                name=step_id,
                retries=spec.retries,
                retry_delay_seconds=spec.retry_delay_seconds,
                cache_key_fn=self._cache_key(spec),
                persist_result=True,
                retry_condition_fn=_retry_unless_waiting,
            )
            if self.results is not None:
                # Prefect's constructor takes only a block saved on its API, to read results back
                # by the block's id; its engine takes any instance (`ResultStore.update_for_task`).
                # These results are read back by key, by this storage only.
                self._tasks[step_id].result_storage = self.results
        return self._tasks[step_id]

    def _attempt_of(self, spec: Runnable) -> Callable[..., Any]:
        def attempt(inputs: dict[str, Any], step: str, map_index: int | None) -> Any:
            if self.results is not None and self.results.failure is not None:
                # Its result could not be looked up: it may have completed already.
                raise ResultsUnavailable(self.results.failure)
            key = (step, map_index)
            self._attempts[key] = self._attempts.get(key, 0) + 1
            attempts = self._attempts[key]
            self.mirror.update(step, map_index, state="RUNNING", attempts=attempts, error=None)
            ctx = self.ctx.within(spec.timeout_seconds)
            try:
                return work.run(spec, inputs, ctx, key=self._key(step, map_index))
            except work.StepFailed as exc:
                timed_out = ctx.timed_out(exc)
                if attempts <= spec.retries:
                    error = _TIMED_OUT if timed_out else exc.message
                    self.mirror.update(step, map_index, state="RETRYING", error=error)
                if timed_out:
                    # Prefect records a TimeoutError as the attempt TimedOut, and retries it.
                    raise TimeoutError(_TIMED_OUT) from None
                raise

        return attempt

    def _cache_key(self, spec: Runnable) -> Callable[[TaskRunContext, dict[str, Any]], str]:
        what = spec.model_dump(mode="json", exclude={"id", "depends_on"})

        def key(_: TaskRunContext, parameters: dict[str, Any]) -> str:
            inputs = {"step": what, "inputs": parameters["inputs"]}
            if spec.cache:
                # Another run's result is reused, never another user's.
                return f"cache-{_digest({'user': self.ctx.user_id, **inputs})}"
            where = {"run": str(self.ctx.run_id), "step": parameters["step"], "item": parameters["map_index"]}
            return f"run-{_digest({**where, **inputs})}"

        return key

    def _settled(self, step: str, map_index: int | None, state: State | None) -> Any:
        """The output of a task run that has ended, mirrored; a failure ends the flow."""
        assert state is not None
        if self.results is not None and self.results.failure is not None:
            # Not kept, or not looked up: the next step must find it, or do it again.
            self.results_unavailable = True
            raise _Stop(Scheduled(message="The results storage is unavailable"))
        if state.is_completed():
            output = state.result()
            cached = state.name == "Cached"
            if not (cached and self.mirror.finished(step, map_index)):
                # Cached in an earlier step of this same run: it completed then, and stays so.
                self.mirror.update(
                    step, map_index, state="CACHED" if cached else "COMPLETED", output=capped(output)
                )
            return output
        failure = state.result(raise_on_failure=False)
        if isinstance(failure, work.ChildRunning):
            self.mirror.update(step, map_index, state="RUNNING")
            raise _Stop(Scheduled(message=_WAITING))
        if isinstance(failure, work.StepFailed):
            self._fail(step, map_index, failure.code, f"step {step}: {failure.message}")
        if isinstance(failure, TimeoutError) or state.name == "TimedOut":
            self._fail(step, map_index, "step_timeout", f"step {step}: {_TIMED_OUT}")
        self._fail(step, map_index, "step_failed", f"step {step}: the task failed ({type(failure).__name__})")

    def _fail(self, step: str, map_index: int | None, code: str, message: str) -> NoReturn:
        self.mirror.update(step, map_index, state="FAILED", error=message)
        self.error = RunError(code=code, message=message)
        raise _Stop(Failed(message=message))

    # ------------------------------------------------------------------ state and output

    def _state(self, item: Any = None) -> dict[str, Any]:
        steps = {step_id: {"output": output} for step_id, output in self.outputs.items()}
        return {"parameters": self.parameters, "steps": steps, "item": item}

    def _final_output(self) -> Any:
        if self.definition.output is not None:
            try:
                return templates.render_value(
                    self.definition.output,
                    self._state(),
                    max_chars=get_settings().max_rendered_template_chars,
                    roots=STEP_ROOTS,
                )
            except templates.TemplateError as exc:
                self.error = RunError(code=exc.code, message=f"output: {exc}")
                raise _Stop(Failed(message=self.error.message)) from None
        depended_on = {dependency for step in self.definition.steps for dependency in step.depends_on}
        return {
            step.id: self.outputs.get(step.id)
            for step in self.definition.steps
            if step.id not in depended_on and not isinstance(step, ConditionStep)
        }


def _retry_unless_waiting(task: Task[..., Any], task_run: Any, state: State) -> bool:
    """A task that found its child run still running, or the results storage unavailable, is not a
    failure worth an attempt."""
    return not isinstance(state.result(raise_on_failure=False), work.ChildRunning | ResultsUnavailable)
