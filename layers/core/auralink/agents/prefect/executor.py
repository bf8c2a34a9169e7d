"""The executor of pipeline runs: each run step runs the pipeline's Prefect flow run once more.

The first step creates the run's flow run on the Prefect API (tagged with the run's and the
pipeline's ids, nothing a user wrote) and records it; every step runs that same flow run, whose
completed tasks come back from their persisted results (`flow`). A step ends with the run
succeeded, failed or cancelled, or running when the flow stopped to go on in the next step (time,
or a child run still running).

Prefect unreachable is the infrastructure's failure: the step raises `ServiceUnavailable` (code
``prefect_unavailable``, never the API's URL or key) and the state machine retries it. So is the
results storage unavailable (``pipeline_results_unavailable``, never the bucket or the endpoint):
task results are persisted in S3 when `PIPELINE_RESULTS_BUCKET` names a bucket (`results`), else
in the folder `results_path`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, State
from prefect.events.worker import EventsWorker
from prefect.flow_engine import run_flow
from prefect.logging.handlers import APILogWorker
from prefect.settings import (
    PREFECT_API_AUTH_STRING,
    PREFECT_API_KEY,
    PREFECT_API_URL,
    PREFECT_CLIENT_MAX_RETRIES,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_LOCAL_STORAGE_PATH,
    PREFECT_RESULTS_PERSIST_BY_DEFAULT,
    temporary_settings,
)
from prefect.settings.legacy import Setting
from prefect.task_runners import ThreadPoolTaskRunner

from auralink import prefect_api
from auralink.agents.pipelines import flow_runs
from auralink.agents.pipelines.definition import MAX_CONCURRENCY, PipelineDefinition
from auralink.agents.prefect.flow import PipelineFlow
from auralink.agents.prefect.mirror import TaskRunMirror
from auralink.agents.prefect.results import PIPELINE_RESULTS_UNAVAILABLE, storage_for
from auralink.agents.prefect.work import RunContext
from auralink.agents.runs import repository as runs
from auralink.agents.runs.models import Progress, Run, RunError, RunStatus, StepOutcome
from auralink.db import tenant_transaction
from auralink.errors import ServiceUnavailable
from auralink.observability import logger
from auralink.settings import get_settings

FRAMEWORK = "prefect"
# The flow's name on the Prefect API: the same for every pipeline (a pipeline's name is the user's).
FLOW_NAME = "auralink-pipeline"
PREFECT_UNAVAILABLE = "prefect_unavailable"
# How long a step waits for Prefect's log and events workers to send what the flow logged and
# the task runs' states.
LOGS_FLUSH_S = 5
# Retries of a request to the Prefect API that failed (busy: 408, 429, 502, 503; a dropped
# connection) beyond the transport's own three connection attempts. Prefect's default, 5 retries
# 2 to 32 s apart, holds a step a minute on each request while the API is down (minutes a step);
# the state machine retries an interrupted step itself, with its backoff, and the step resumes the
# flow run. One retry, about 2 s later, rides out a moment's overload (a 503 while the API's
# database is busy) without re-running the step.
CLIENT_RETRIES = 1


def results_path() -> Path:
    """Where task results are persisted for a resumed run to find when no bucket is configured (a
    folder that outlives the step, not the container)."""
    configured = get_settings().pipeline_results_path
    return configured if configured is not None else Path(tempfile.gettempdir()) / "auralink-pipeline-results"


def ui_url(api: prefect_api.PrefectApi, flow_run_id: UUID) -> str:
    base = get_settings().prefect_ui_url or api.url.removesuffix("/api")
    return f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}"


@contextmanager
def prefect_settings(api: prefect_api.PrefectApi) -> Iterator[None]:
    """Prefect's client pointed at the configured API, results persisted under `results_path`."""
    updates: dict[Setting, Any] = {
        PREFECT_API_URL: api.url,
        PREFECT_LOCAL_STORAGE_PATH: str(results_path()),
        PREFECT_RESULTS_PERSIST_BY_DEFAULT: True,
        PREFECT_CLIENT_MAX_RETRIES: CLIENT_RETRIES,
        # A flow run's heartbeats (every 3 min) tell Prefect a run whose process died; a run step's
        # death is the state machine's to handle. Their thread, joined when the flow ends, sleeps
        # in 1 s turns: each step would wait up to a second for it.
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
    }
    if api.api_key:
        updates[PREFECT_API_KEY] = api.api_key
    if api.auth_string:
        updates[PREFECT_API_AUTH_STRING] = api.auth_string
    with temporary_settings(updates=updates):
        yield


class PrefectExecutor:
    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        deadline = time.monotonic() + deadline_ms / 1000
        with tenant_transaction(run.user_id) as conn:
            pinned = runs.pinned_definition(conn, run.run_id)
            recorded = flow_runs.for_run(conn, run.run_id)
        if pinned is None or recorded is None:
            error = RunError(code="pipeline_not_pinned", message="The run has no pipeline to execute")
            return StepOutcome(status=RunStatus.FAILED, error=error)
        api = prefect_api.configured_api()
        if api is None:
            error = RunError(code=PREFECT_UNAVAILABLE, message="No Prefect API is configured for pipelines")
            return StepOutcome(status=RunStatus.FAILED, error=error)
        definition = PipelineDefinition.model_validate({k: v for k, v in pinned.items() if k != "version"})
        ctx = RunContext(
            user_id=run.user_id, run_id=run.run_id, pipeline_id=run.pipeline_id, deadline=deadline
        )
        mirror = TaskRunMirror(run.user_id, run.run_id, recorded["task_runs"])
        results = storage_for(run.user_id)
        body = PipelineFlow(definition, run.input.get("parameters", {}), ctx, mirror, results)
        flow: Flow[[], Any] = Flow(
            body.body,
            name=FLOW_NAME,
            persist_result=False,
            validate_parameters=False,
            task_runner=ThreadPoolTaskRunner(max_workers=MAX_CONCURRENCY),  # type: ignore[arg-type]
        )
        try:
            with prefect_settings(api):
                flow_run = self._flow_run(api, run, flow, recorded["prefect_run_id"])
                mirror.save(flow_state="RUNNING")
                state = run_flow(flow, flow_run=flow_run, return_type="state")
                assert isinstance(state, State)
                # Prefect sends logs, and the task runs' states (as events), from background
                # workers: a Lambda frozen after the step would keep them from the API.
                APILogWorker.drain_all(timeout=LOGS_FLUSH_S)
                EventsWorker.drain_all(timeout=LOGS_FLUSH_S)
        except httpx.HTTPError as exc:
            # The status tells a server that failed (5xx) from one that refused the client (4xx).
            status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
            logger.warning(
                "prefect api unavailable",
                extra={"run_id": str(run.run_id), "error_type": type(exc).__name__, "status": status},
            )
            raise ServiceUnavailable("The Prefect API is unavailable", code=PREFECT_UNAVAILABLE) from None
        if body.results_unavailable:
            mirror.save(flow_state=state.type.value)
            logger.warning(
                "pipeline results storage unavailable",
                extra={"run_id": str(run.run_id), "error_type": results.failure if results else None},
            )
            raise ServiceUnavailable(
                "The pipeline results storage is unavailable", code=PIPELINE_RESULTS_UNAVAILABLE
            )
        return self._outcome(body, mirror, state.type.value)

    def _flow_run(
        self, api: prefect_api.PrefectApi, run: Run, flow: Flow[[], Any], recorded_id: str | None
    ) -> FlowRun:
        with get_client(sync_client=True) as client:
            if recorded_id is not None:
                return client.read_flow_run(UUID(recorded_id))
            tags = [f"auralink-run:{run.run_id}"]
            if run.pipeline_id is not None:
                tags.append(f"auralink-pipeline:{run.pipeline_id}")
            created = client.create_flow_run(flow, parameters={}, tags=tags)
            with tenant_transaction(run.user_id) as conn:
                flow_runs.record_flow_run(
                    conn, run.run_id, prefect_run_id=created.id, ui_url=ui_url(api, created.id)
                )
                recorded = flow_runs.for_run(conn, run.run_id)
            if recorded is not None and recorded["prefect_run_id"] != str(created.id):
                # Another attempt of this step recorded its flow run first: that one stands.
                return client.read_flow_run(UUID(recorded["prefect_run_id"]))
            return created

    def _outcome(self, body: PipelineFlow, mirror: TaskRunMirror, flow_state: str) -> StepOutcome:
        entries = mirror.entries()
        progress = Progress(
            steps_done=sum(entry["state"] in ("COMPLETED", "CACHED", "SKIPPED") for entry in entries),
            current_node=body.current,
        )
        if flow_state == "CANCELLED":
            mirror.save(flow_state="CANCELLED", final=True)
            return StepOutcome(status=RunStatus.CANCELLED, progress=progress)
        if body.error is not None:
            mirror.save(flow_state="FAILED", final=True)
            return StepOutcome(status=RunStatus.FAILED, progress=progress, error=body.error)
        if flow_state == "SCHEDULED":
            mirror.save(flow_state="SCHEDULED")
            return StepOutcome(status=RunStatus.RUNNING, progress=progress)
        if flow_state == "COMPLETED":
            mirror.save(flow_state="COMPLETED", result=body.output, final=True)
            return StepOutcome(status=RunStatus.SUCCEEDED, progress=progress, output=body.output)
        mirror.save(flow_state="FAILED", final=True)
        error = RunError(code="pipeline_failed", message=f"The pipeline's flow run ended {flow_state}")
        return StepOutcome(status=RunStatus.FAILED, progress=progress, error=error)
