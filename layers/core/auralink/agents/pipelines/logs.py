"""A pipeline run's logs, as Prefect recorded them for its flow run, read over Prefect's REST API.

Plain HTTP (`POST /logs/filter`), without importing Prefect's client. Another user's run is not
found (row-level security hides its Prefect flow run id); a run with no flow run (another kind of
run, or one not started yet) has no logs. Prefect unreachable is a 503 ``prefect_unavailable``
that names neither the API's URL nor its key.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx

from auralink import prefect_api
from auralink.agents.pipelines import flow_runs
from auralink.agents.runs import repository as runs
from auralink.auth import Identity
from auralink.db import tenant_transaction
from auralink.errors import ServiceUnavailable
from auralink.model import DeferredModel
from auralink.observability import logger

MAX_LOGS_PAGE = 200
TIMEOUT_S = 5.0
PREFECT_UNAVAILABLE = "prefect_unavailable"


class RunLog(DeferredModel):
    timestamp: datetime
    level: str
    logger: str
    message: str
    task_run_id: UUID | None


class RunLogPage(DeferredModel):
    """Oldest first; ``next_offset`` is the ``offset`` of the next page while there may be more."""

    logs: list[RunLog]
    next_offset: int | None


def run_logs(identity: Identity, run_id: UUID, *, limit: int = 100, offset: int = 0) -> RunLogPage:
    with tenant_transaction(identity.sub) as conn:
        runs.get(conn, run_id)  # 404 run_not_found for another user's run
        recorded = flow_runs.for_run(conn, run_id)
    if recorded is None or recorded["prefect_run_id"] is None:
        return RunLogPage(logs=[], next_offset=None)
    api = prefect_api.configured_api()
    if api is None:
        raise ServiceUnavailable("No Prefect API is configured", code=PREFECT_UNAVAILABLE)
    limit = min(limit, MAX_LOGS_PAGE)
    rows = _read(api, recorded["prefect_run_id"], limit=limit, offset=offset)
    return RunLogPage(
        logs=[_log(row) for row in rows],
        next_offset=offset + len(rows) if len(rows) == limit else None,
    )


def _read(api: prefect_api.PrefectApi, flow_run_id: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
    body = {
        "logs": {"flow_run_id": {"any_": [flow_run_id]}},
        "sort": "TIMESTAMP_ASC",
        "limit": limit,
        "offset": offset,
    }
    try:
        response = httpx.post(f"{api.url}/logs/filter", json=body, headers=api.headers(), timeout=TIMEOUT_S)
        response.raise_for_status()
        rows = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        logger.warning("prefect logs unavailable", extra={"error_type": type(exc).__name__})
        raise ServiceUnavailable("The Prefect API is unavailable", code=PREFECT_UNAVAILABLE) from None
    return rows if isinstance(rows, list) else []


def _log(row: dict[str, Any]) -> RunLog:
    level = row.get("level")
    return RunLog(
        timestamp=row["timestamp"],
        level=logging.getLevelName(level) if isinstance(level, int) else str(level),
        logger=str(row.get("name", "")),
        message=str(row.get("message", "")),
        task_run_id=row.get("task_run_id"),
    )
