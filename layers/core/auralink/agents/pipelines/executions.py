"""Runs of pipelines: start one, list a pipeline's runs.

A pipeline run is a run like any other (`auralink.agents.runs.control`): the same quotas,
idempotency, Step Functions loop, status and cancel. What is a pipeline's own is recorded with it:
the definition it executes (pinned when it starts: a pipeline edited or deleted later does not
change a run under way) and its Prefect flow run (`flow_runs`), which the run step fills in.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from pydantic import ConfigDict, Field, field_validator

from auralink.agents.pipelines import flow_runs, repository
from auralink.agents.pipelines.definition import bounded
from auralink.agents.runs import control, orchestrator
from auralink.agents.runs.api_models import RunAccepted, RunPage
from auralink.auth import Identity
from auralink.db import Connection, tenant_transaction
from auralink.errors import ValidationFailed
from auralink.model import DeferredModel

# Pipelines run on Prefect; the executor registered under this name advances their runs.
FRAMEWORK = "prefect"
_MAX_SCHEMA_ERRORS = 20


class ExecutePipelineRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="The run's parameters: a JSON object the pipeline's parameters_schema accepts",
    )

    _parameters_size = field_validator("parameters")(bounded)


def start_pipeline_run(
    identity: Identity, pipeline_id: UUID, request: ExecutePipelineRequest, idempotency_key: str | None
) -> tuple[RunAccepted, bool]:
    """Record a run of the pipeline with the parameters and start it (202); the bool says whether
    it is new. 404 for a pipeline that is not the caller's; 422 naming each parameter that breaks
    the pipeline's parameters_schema. A repeated request (the same ``idempotency_key``) gets the
    first one's run, whatever became of the pipeline since."""
    orchestrator.state_machine_arn()
    run_input = {"parameters": request.parameters}
    if idempotency_key is not None:
        asked = control.NewRun(framework=FRAMEWORK, input=run_input, pipeline_id=pipeline_id)
        if (earlier := control.replayed(identity, asked, idempotency_key)) is not None:
            return earlier, False
    with tenant_transaction(identity.sub) as conn:
        pipeline = repository.get(conn, pipeline_id)
    if pipeline["parameters_schema"] is not None:
        _check_parameters(pipeline["parameters_schema"], request.parameters)
    new = control.NewRun(
        framework=FRAMEWORK,
        input=run_input,
        pipeline_id=pipeline_id,
        definition={"version": pipeline["version"], **pipeline["definition"]},
        record=partial(_record_flow_run, identity.sub, pipeline_id, request.parameters),
    )
    return control.start_run(identity, new, idempotency_key, exists=_pipeline_exists)


def pipeline_runs(identity: Identity, pipeline_id: UUID, *, limit: int, cursor: str | None) -> RunPage:
    """The pipeline's runs, newest first; 404 for a pipeline that is not the caller's."""
    with tenant_transaction(identity.sub) as conn:
        repository.get(conn, pipeline_id)
    return control.list_runs(identity, pipeline_id=pipeline_id, limit=limit, cursor=cursor)


def _pipeline_exists(conn: Connection, new: control.NewRun) -> None:
    assert new.pipeline_id is not None
    repository.get(conn, new.pipeline_id)  # 404 pipeline_not_found: deleted since it was read


def _record_flow_run(
    user_id: str, pipeline_id: UUID, parameters: dict[str, Any], conn: Connection, run_id: UUID
) -> None:
    flow_runs.insert(conn, user_id=user_id, pipeline_id=pipeline_id, run_id=run_id, parameters=parameters)


def _check_parameters(schema: dict[str, Any], parameters: dict[str, Any]) -> None:
    """422 naming each path where the parameters break the schema (never their values: they may
    hold something secret). The schema was checked when the pipeline was saved."""
    from auralink import schemas  # noqa: PLC0415  # jsonschema (~50 ms): only for the requests that check a schema

    problems = schemas.errors(schema, parameters)
    if not problems:
        return
    details = [
        {
            "field": ".".join(["body", "parameters", *map(str, problem.absolute_path)]),
            "message": f"does not satisfy the parameters schema's {problem.validator!r} rule",
        }
        for problem in problems[:_MAX_SCHEMA_ERRORS]
    ]
    raise ValidationFailed("The parameters do not match the pipeline's parameters_schema", details=details)
