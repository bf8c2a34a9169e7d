"""Refresh of the summary views that the usage, performance and comparison endpoints read."""

from __future__ import annotations

import time

from auralink.db import system_transaction
from auralink.model import DeferredModel
from auralink.observability import MetricName, MetricUnit, logger, metrics


class RefreshResult(DeferredModel):
    refreshed: list[str]
    duration_ms: float


def refresh() -> RefreshResult:
    started = time.perf_counter()
    with system_transaction() as conn:
        # A SECURITY DEFINER function: the service role may refresh, never read, the raw views.
        rows = conn.execute("SELECT view_name FROM refresh_summary_views() AS view_name").fetchall()
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    metrics.add_metric(
        name=MetricName.SUMMARY_REFRESH_DURATION, unit=MetricUnit.Milliseconds, value=duration_ms
    )
    refreshed = [row["view_name"] for row in rows]
    logger.info("summaries refreshed", extra={"views": refreshed, "duration_ms": duration_ms})
    return RefreshResult(refreshed=refreshed, duration_ms=duration_ms)
