"""The runs API: start a workflow run, read and list runs, resume a waiting run, cancel a run.

Starting records the run first and then starts its Step Functions execution (`starts`). When the
start fails, what happens to the run depends on whether the caller can come back to it:

- an execute with an Idempotency-Key, and a resume, keep the run unstarted: the same request
  again starts it (and answers as the first would have), and so does the sweeper once the run
  has waited longer than its grace period;
- an execute without a key fails the run with the error's code: repeating it makes a new run,
  and the old one must not start as well.

Step Functions busy or unreachable is a 503 `orchestrator_unavailable` with Retry-After; a refusal
that no retry fixes (permissions, the state machine's ARN) is a 500 `configuration_error`. Both
name the run in `details.run_id`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from auralink import tracing
from auralink.agents.runs import orchestrator, repository, starts
from auralink.agents.runs.api_models import (
    ExecuteRequest,
    ResumeRequest,
    RunAccepted,
    RunPage,
    RunProgress,
    RunSummary,
    RunUsage,
    RunView,
    TaskRun,
)
from auralink.agents.runs.models import Progress, RunError, RunStatus
from auralink.auth import Identity
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.db import Connection, tenant_transaction
from auralink.errors import ConfigurationError, Conflict, NotFound, ServiceUnavailable, ValidationFailed
from auralink.llm import preferences
from auralink.llm.registry import ModelRetired
from auralink.observability import MetricName, MetricUnit, logger, metrics
from auralink.quotas import service as quotas

# Workflows are LangGraph graphs; the executor registered under this name advances their runs.
WORKFLOW_FRAMEWORK = "langgraph"
ORCHESTRATOR_UNAVAILABLE = "orchestrator_unavailable"
CONFIGURATION_ERROR = "configuration_error"
_MAX_SCHEMA_ERRORS = 20


@dataclass(frozen=True)
class NewRun:
    """What a run is started with: its target (a workflow or a team), framework, input and options.

    ``definition`` pins what a team run executes from the start; ``record`` writes what belongs
    with the run in the transaction that inserts it (a team's conversation)."""

    framework: str
    input: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    workflow_id: UUID | None = None
    team_id: UUID | None = None
    pipeline_id: UUID | None = None
    definition: dict[str, Any] | None = None
    # The pipeline run that started this one (a workflow or team step): usage rolls up to it.
    parent_run_id: UUID | None = None
    record: Callable[[Connection, UUID], None] | None = None


def start_workflow_run(
    identity: Identity,
    workflow_id: UUID,
    request: ExecuteRequest,
    idempotency_key: str | None,
    *,
    clock: Clock = SYSTEM_CLOCK,
    parent_run_id: UUID | None = None,
) -> tuple[RunAccepted, bool]:
    """Record a run of the workflow and start its execution (see `start_run`)."""
    orchestrator.state_machine_arn()  # a function that cannot start runs must not record them
    new = NewRun(
        framework=WORKFLOW_FRAMEWORK,
        input=request.input,
        options=_options(identity, request),
        workflow_id=workflow_id,
        parent_run_id=parent_run_id,
    )
    return start_run(identity, new, idempotency_key, exists=_workflow_exists, clock=clock)


def _workflow_exists(conn: Connection, new: NewRun) -> None:
    assert new.workflow_id is not None
    if not repository.workflow_exists(conn, new.workflow_id):
        raise NotFound("Workflow not found", code="workflow_not_found")


def start_run(
    identity: Identity,
    new: NewRun,
    idempotency_key: str | None,
    *,
    exists: Callable[[Connection, NewRun], None],
    clock: Clock = SYSTEM_CLOCK,
) -> tuple[RunAccepted, bool]:
    """Record a run and start its execution; the bool says whether it is new (False: an earlier
    request with the same idempotency key recorded it).

    ``exists`` raises NotFound when the run's target is not the caller's. A new run is admitted
    by the user's quotas (runs at once, runs per hour) in the transaction that records it: a
    refused one (429 ``quota_exceeded``) leaves nothing behind."""
    orchestrator.state_machine_arn()  # a function that cannot start runs must not record them
    if idempotency_key is not None and (replay := replayed(identity, new, idempotency_key)) is not None:
        return replay, False
    trace_header = tracing.current_header()  # the request's span, the run's steps' parent
    with quotas.recorded(identity.sub), tenant_transaction(identity.sub) as conn:
        exists(conn, new)
        quotas.lock_run_starts(conn, identity.sub)
        run_id = repository.insert_run(
            conn,
            user_id=identity.sub,
            workflow_id=new.workflow_id,
            team_id=new.team_id,
            pipeline_id=new.pipeline_id,
            definition=new.definition,
            parent_run_id=new.parent_run_id,
            framework=new.framework,
            run_input=new.input,
            options=new.options,
            idempotency_key=idempotency_key,
            trace_header=trace_header,
        )
        if run_id is not None:
            quotas.admit_run(conn, identity.sub, now=clock.now())
            if new.record is not None:
                new.record(conn, run_id)
    if run_id is None:
        # A concurrent request with the same key inserted first: answer as its replay.
        assert idempotency_key is not None  # only a key can conflict
        with tenant_transaction(identity.sub) as conn:
            earlier = repository.find_by_idempotency_key(conn, idempotency_key)
        assert earlier is not None  # the conflicting row is committed and visible
        return _replay(identity, earlier, new), False
    _start(identity.sub, run_id, new.framework, execution=1, keep_unstarted=idempotency_key is not None)
    metrics.add_metric(name=MetricName.RUNS_STARTED, unit=MetricUnit.Count, value=1)
    targets = {"workflow_id": new.workflow_id, "team_id": new.team_id, "pipeline_id": new.pipeline_id}
    target = {name: str(value) for name, value in targets.items() if value is not None}
    logger.info("run started", extra={"run_id": str(run_id), **target})
    return RunAccepted(run_id=run_id, status=RunStatus.QUEUED), True


def get_run(identity: Identity, run_id: UUID) -> RunView:
    with tenant_transaction(identity.sub) as conn:
        row = repository.get(conn, run_id)
        usage = repository.usage(conn, run_id)
        flow_run = _flow_run(conn, run_id) if row["kind"] == "pipeline" else None
    return _view(row, usage, flow_run)


def _flow_run(conn: Connection, run_id: UUID) -> dict[str, Any] | None:
    from auralink.agents.pipelines import flow_runs  # noqa: PLC0415  # pipelines import the runs API

    return flow_runs.for_run(conn, run_id)


def list_runs(
    identity: Identity,
    *,
    status: RunStatus | None = None,
    workflow_id: UUID | None = None,
    pipeline_id: UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> RunPage:
    with tenant_transaction(identity.sub) as conn:
        rows, next_cursor = repository.page(
            conn,
            limit=limit,
            cursor=cursor,
            status=None if status is None else status.value,
            workflow_id=workflow_id,
            pipeline_id=pipeline_id,
        )
    return RunPage(
        runs=[
            RunSummary(
                run_id=row["id"],
                kind=row["kind"],
                workflow_id=row["workflow_id"],
                team_id=row["team_id"],
                pipeline_id=row["pipeline_id"],
                framework=row["framework"],
                status=row["status"],
                steps_done=row["steps_done"],
                error=row["error"],
                created_at=row["created_at"],
                started_at=row["started_at"],
                finished_at=row["finished_at"],
            )
            for row in rows
        ],
        next_cursor=next_cursor,
    )


def resume_run(identity: Identity, run_id: UUID, request: ResumeRequest) -> RunView:
    """Give a waiting run its answer and start the execution that carries on from there.

    The same answer again, to a run whose resumed execution never started, starts it.
    """
    orchestrator.state_machine_arn()
    with tenant_transaction(identity.sub) as conn:
        row = repository.get(conn, run_id, for_update=True)
        if repository.is_unstarted(row) and row["resume_input"] == {"value": request.value}:
            execution = int(row["executions"])
        else:
            if row["status"] != RunStatus.WAITING_FOR_INPUT:
                raise Conflict(f"The run is {row['status']}, not waiting for input", code="run_not_waiting")
            waiting_for = Progress.model_validate(row["progress"]).waiting_for
            if waiting_for is not None and waiting_for.input_schema is not None:
                _check_answer(waiting_for.input_schema, request.value, request.field)
            execution = repository.mark_resumed(conn, run_id, request.value)
    _start(identity.sub, run_id, row["framework"], execution=execution, keep_unstarted=True)
    logger.info("run resumed", extra={"run_id": str(run_id), "execution": execution})
    return get_run(identity, run_id)


def cancel_run(identity: Identity, run_id: UUID) -> RunView:
    """A run that is not working is cancelled at once; a running one at its next step boundary.

    The execution is not stopped: a stopped execution would leave the run's row running, while
    the step machinery closes the run itself when it sees the request.
    """
    with tenant_transaction(identity.sub) as conn:
        row = repository.get(conn, run_id, for_update=True)
        status = RunStatus(row["status"])
        if status.is_terminal:
            raise Conflict(f"The run has already finished ({status})", code="run_finished")
        if status == RunStatus.RUNNING:
            repository.request_cancel(conn, run_id)
        else:
            repository.cancel_now(conn, run_id)
    logger.info("run cancel requested", extra={"run_id": str(run_id), "status": status.value})
    return get_run(identity, run_id)


def _options(identity: Identity, request: ExecuteRequest) -> dict[str, Any]:
    if request.model is None:
        return {}
    try:
        preferences.resolve_model(identity.sub, request.model)
    except ValidationFailed as exc:
        successor = {"successor": exc.successor} if isinstance(exc, ModelRetired) else {}
        raise ValidationFailed(
            exc.message,
            code=exc.code,
            details=[{"field": "body.model", "message": exc.message, **successor}],
        ) from None
    return {"model": request.model}


def replayed(identity: Identity, new: NewRun, idempotency_key: str) -> RunAccepted | None:
    """The answer given to an earlier request with this key (None: there was none); 409 when
    that request was another. Only the run's target, input and options are compared."""
    with tenant_transaction(identity.sub) as conn:
        earlier = repository.find_by_idempotency_key(conn, idempotency_key)
    return None if earlier is None else _replay(identity, earlier, new)


def _replay(identity: Identity, earlier: dict[str, Any], new: NewRun) -> RunAccepted:
    """The answer to a repeated request; a different request under the same key is refused.

    A run that the first request recorded but never started (it died in between, or Step
    Functions failed it) is started now, as the first request would have.
    """
    same = (
        earlier["workflow_id"] == new.workflow_id
        and earlier["team_id"] == new.team_id
        and earlier["pipeline_id"] == new.pipeline_id
        and earlier["input"] == new.input
        and earlier["options"] == new.options
    )
    if not same:
        raise Conflict(
            "This Idempotency-Key was used for a different request",
            code="idempotency_key_reused",
            details=[{"field": "header.Idempotency-Key", "message": "already used with another request"}],
        )
    if repository.is_unstarted(earlier):
        execution = int(earlier["executions"])
        _start(identity.sub, earlier["id"], earlier["framework"], execution=execution, keep_unstarted=True)
        if execution == 1:
            metrics.add_metric(name=MetricName.RUNS_STARTED, unit=MetricUnit.Count, value=1)
        logger.info("unstarted run started on a repeated request", extra={"run_id": str(earlier["id"])})
    return RunAccepted(run_id=earlier["id"], status=earlier["status"])


def _start(user_id: str, run_id: UUID, framework: str, *, execution: int, keep_unstarted: bool) -> None:
    """Start the run's execution; on failure, fail the run unless ``keep_unstarted``."""
    try:
        starts.start(user_id, run_id, execution, framework)
    except orchestrator.OrchestratorUnavailable as exc:
        if not keep_unstarted:
            _fail_queued(user_id, run_id, ORCHESTRATOR_UNAVAILABLE, "Step Functions was unavailable")
        outcome = "repeat the request to start the run" if keep_unstarted else "the run is recorded as failed"
        raise ServiceUnavailable(
            f"The orchestrator is unavailable; {outcome}",
            code=ORCHESTRATOR_UNAVAILABLE,
            retry_after_seconds=exc.retry_after_seconds,
            details={"run_id": str(run_id)},
        ) from None
    except orchestrator.OrchestratorMisconfigured:
        if not keep_unstarted:
            _fail_queued(user_id, run_id, CONFIGURATION_ERROR, "the service is misconfigured")
        raise ConfigurationError(
            "The run state machine refused the execution",
            code=CONFIGURATION_ERROR,
            details={"run_id": str(run_id)},
        ) from None


def _fail_queued(user_id: str, run_id: UUID, code: str, reason: str) -> None:
    error = RunError(code=code, message=f"The run could not be started: {reason}")
    with tenant_transaction(user_id) as conn:
        repository.fail_unstarted(conn, run_id, execution=1, status=RunStatus.QUEUED, error=error)


def _check_answer(schema: dict[str, Any], answer: Any, answer_field: str) -> None:
    """422 naming each path where the answer breaks the waiting node's input schema.

    Messages name the schema's rule, never the answer's value (it may hold something secret).
    """
    invalid_schema = ValidationFailed(
        "The waiting node's input schema is not a valid JSON Schema",
        code="invalid_input_schema",
        details=[{"field": "progress.waiting_for.input_schema", "message": "not a valid JSON Schema"}],
    )
    from auralink import schemas  # noqa: PLC0415  # jsonschema (~50 ms): only for the requests that check a schema

    if schemas.problems(schema):
        # Stored before workflows were refused for them: a reference elsewhere, a pattern RE2
        # cannot run. Never fetched, never run on a backtracking engine.
        raise invalid_schema
    try:
        problems = schemas.errors(schema, answer)
    except schemas.UnsupportedSchema:
        raise invalid_schema from None
    if not problems:
        return
    details = [
        {
            "field": ".".join([answer_field, *map(str, problem.absolute_path)]),
            "message": f"does not satisfy the input schema's {problem.validator!r} rule",
        }
        for problem in problems[:_MAX_SCHEMA_ERRORS]
    ]
    raise ValidationFailed("The input does not match what the run waits for", details=details)


def _view(row: dict[str, Any], usage: dict[str, Any], flow_run: dict[str, Any] | None = None) -> RunView:
    progress = Progress.model_validate(row["progress"])
    return RunView(
        run_id=row["id"],
        kind=row["kind"],
        workflow_id=row["workflow_id"],
        team_id=row["team_id"],
        pipeline_id=row["pipeline_id"],
        framework=row["framework"],
        status=row["status"],
        cancel_requested=row["cancel_requested"],
        progress=RunProgress(
            # An executor counts its own units of work (a workflow's nodes); else the run's steps count.
            steps_done=row["steps_done"] if progress.steps_done is None else progress.steps_done,
            current_node=progress.current_node,
            waiting_for=progress.waiting_for,
            messages=progress.messages,
            current_speaker=progress.current_speaker,
            tasks_done=progress.tasks_done,
            tasks_total=progress.tasks_total,
            current_task=progress.current_task,
        ),
        events=row["events"],
        output=row["output"],
        error=row["error"],
        usage=RunUsage(
            llm_calls=usage["llm_calls"],
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            tokens=usage["input_tokens"] + usage["output_tokens"],
            cost_usd=float(usage["cost_usd"]),
        ),
        **_prefect_fields(flow_run),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _prefect_fields(flow_run: dict[str, Any] | None) -> dict[str, Any]:
    if flow_run is None:
        return {}
    return {
        "prefect_flow_run_id": flow_run["prefect_run_id"],
        "prefect_ui_url": flow_run["ui_url"],
        "task_runs": [TaskRun.model_validate(task_run) for task_run in flow_run["task_runs"]],
    }
