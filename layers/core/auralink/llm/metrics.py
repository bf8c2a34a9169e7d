"""Per-call LLM metrics: one row of `llm_performance_metrics` for every call, failed ones too.

The row names the model as called; the CloudWatch metrics name it only when the registry lists
it (`other` otherwise: a user's own endpoint serves models of any name, and every new value of a
dimension is a new metric that the operator pays for). The provider is always the registry's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from auralink.auth import Identity
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.db import tenant_transaction
from auralink.llm.chat_models import Comparison, MetricsReport, ModelComparison, ModelMetrics, as_float
from auralink.observability import MetricName, MetricPoint, MetricUnit, emit_with_dimensions


@dataclass(frozen=True)
class CallRecord:
    user_id: str
    provider: str
    model: str
    latency_ms: int
    status: str
    error_code: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    run_id: UUID | None = None
    # Whether the registry lists the model (`registry.ModelEntry.listed`); a record that does not
    # say is named `other` in the metrics, never by a name that may be a user's.
    listed: bool = False


def record(call: CallRecord) -> None:
    with tenant_transaction(call.user_id) as conn:
        conn.execute(
            """
            INSERT INTO llm_performance_metrics
                (user_id, provider, model, run_id, status, error_code, latency_ms,
                 input_tokens, output_tokens, cost_usd)
            VALUES (%(user_id)s, %(provider)s, %(model)s, %(run_id)s, %(status)s, %(error_code)s,
                    %(latency_ms)s, %(input_tokens)s, %(output_tokens)s, %(cost_usd)s)
            """,
            call.__dict__,
        )
    _emit(call)


OTHER_MODEL = "other"


def _emit(call: CallRecord) -> None:
    model = f"{call.provider}/{call.model}" if call.listed else OTHER_MODEL
    dimensions = {"provider": call.provider, "model": model}
    points: list[MetricPoint] = [
        (MetricName.LLM_CALLS, MetricUnit.Count, 1),
        (MetricName.LLM_LATENCY, MetricUnit.Milliseconds, call.latency_ms),
        (MetricName.LLM_INPUT_TOKENS, MetricUnit.Count, call.input_tokens),
        (MetricName.LLM_OUTPUT_TOKENS, MetricUnit.Count, call.output_tokens),
        (MetricName.LLM_COST, MetricUnit.NoUnit, float(call.cost_usd)),
    ]
    if call.status != "success":
        points.append((MetricName.LLM_ERRORS, MetricUnit.Count, 1))
    emit_with_dimensions(points, dimensions)


def report(identity: Identity, *, window_hours: int, clock: Clock = SYSTEM_CLOCK) -> MetricsReport:
    since = clock.now() - timedelta(hours=window_hours)
    with tenant_transaction(identity.sub) as conn:
        rows = conn.execute(
            """
            SELECT provider, model,
                   count(*)                                   AS calls,
                   count(*) FILTER (WHERE status = 'error')   AS errors,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)  AS p50_latency_ms,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms,
                   coalesce(sum(input_tokens), 0)             AS input_tokens,
                   coalesce(sum(output_tokens), 0)            AS output_tokens,
                   coalesce(sum(cost_usd), 0)                 AS cost_usd
              FROM llm_performance_metrics
             WHERE created_at >= %s
             GROUP BY provider, model
             ORDER BY provider, model
            """,
            (since,),
        ).fetchall()
    return MetricsReport(window_hours=window_hours, since=since, models=[_model_metrics(row) for row in rows])


def _model_metrics(row: dict[str, Any]) -> ModelMetrics:
    return ModelMetrics(
        model=f"{row['provider']}/{row['model']}",
        provider=row["provider"],
        calls=row["calls"],
        errors=row["errors"],
        error_rate=round(row["errors"] / row["calls"], 4) if row["calls"] else 0.0,
        p50_latency_ms=row["p50_latency_ms"],
        p95_latency_ms=row["p95_latency_ms"],
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cost_usd=as_float(row["cost_usd"]),
    )


def comparison(identity: Identity) -> Comparison:
    """The caller's models side by side, from the summary refreshed every 15 minutes."""
    with tenant_transaction(identity.sub) as conn:
        rows = conn.execute(
            "SELECT provider, model, calls, errors, error_rate, p50_latency_ms, p95_latency_ms, input_tokens,"
            " output_tokens, cost_usd, last_call_at FROM my_llm_comparison ORDER BY provider, model"
        ).fetchall()
    models = []
    for row in rows:
        output_tokens = int(row["output_tokens"] or 0)
        cost = as_float(row["cost_usd"])
        models.append(
            ModelComparison(
                model=f"{row['provider']}/{row['model']}",
                provider=row["provider"],
                calls=row["calls"],
                errors=row["errors"],
                error_rate=round(as_float(row["error_rate"]), 4),
                p50_latency_ms=row["p50_latency_ms"],
                p95_latency_ms=row["p95_latency_ms"],
                input_tokens=int(row["input_tokens"] or 0),
                output_tokens=output_tokens,
                cost_usd=cost,
                cost_per_1k_output_tokens=round(cost / output_tokens * 1000, 6) if output_tokens else None,
                last_call_at=row["last_call_at"],
            )
        )
    return Comparison(models=models)
