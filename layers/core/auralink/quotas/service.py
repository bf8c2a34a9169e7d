"""Admitting work against the user's quotas, recording refusals, and the user's standing.

Every count lives in Postgres (`auralink.rate_windows`, `quota_locks`), so that every Lambda
container sees the same ones, and every admission is race-safe:

- a run is admitted in the transaction that inserts it, under the user's lock row: the user's
  starts go one at a time, each counting the live runs the earlier ones committed;
- a count in a window (runs per hour, chat calls per minute, the day's LLM tokens and cost) is
  one statement that admits and counts (`rate_windows.consume`).

An LLM call the service pays for reserves a bound of what it may spend before it goes out
(`reserve_llm`) and settles to what it did spend once it is back (`settle_llm`): concurrent
calls cannot all pass a budget that only one of them fits in.

A refusal is a `QuotaExceeded` (429 ``quota_exceeded`` with Retry-After), recorded in
`quota_refusals` (after the refused transaction has rolled back) and counted in CloudWatch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg

from auralink import rate_windows
from auralink.auth import Identity
from auralink.db import Connection, tenant_transaction
from auralink.errors import ServiceUnavailable
from auralink.observability import MetricName, MetricUnit, emit_with_dimensions, logger
from auralink.quotas import repository
from auralink.quotas.models import (
    Quota,
    QuotaExceeded,
    QuotaRefusal,
    QuotaStanding,
    UsageReport,
    WindowName,
)
from auralink.rate_windows import DAY, HOUR, MINUTE, Window
from auralink.settings import get_settings

# A slot of the concurrent runs frees when one of them ends, which nobody can foresee.
CONCURRENT_RUNS_RETRY_AFTER_S = 30
RECENT_REFUSALS = 20
_MICRO = Decimal(1_000_000)


def _bucket(quota: Quota, user_id: str) -> str:
    return f"{quota.value}:{rate_windows.subject_digest(user_id)}"


# ------------------------------------------------------------------------------------ refusals


@contextmanager
def recorded(user_id: str) -> Iterator[None]:
    """Record a refusal raised in the block; put it outside the refused transaction."""
    try:
        yield
    except QuotaExceeded as refusal:
        record(user_id, refusal)
        raise


def record(user_id: str, refusal: QuotaExceeded) -> None:
    try:
        with tenant_transaction(user_id) as conn:
            repository.record_refusal(conn, user_id, refusal)
    except (ServiceUnavailable, psycopg.Error):
        # The refusal stands whether or not its record could be written.
        logger.warning("quota refusal not recorded", extra={"quota": refusal.quota.value}, exc_info=True)
    emit_with_dimensions([(MetricName.QUOTA_REFUSALS, MetricUnit.Count, 1)], {"quota": refusal.quota.value})
    logger.info("quota refused", extra={"quota": refusal.quota.value, "limit": str(refusal.limit)})


# ---------------------------------------------------------------------------------------- runs


def lock_run_starts(conn: Connection, user_id: str) -> None:
    """First in the transaction that creates a run: the user's starts are admitted one at a time."""
    repository.lock_user(conn, user_id)


def admit_run(conn: Connection, user_id: str, *, now: datetime) -> None:
    """After the new run's row is inserted (under `lock_run_starts`): raise `QuotaExceeded`,
    which rolls the insert back, when the user has too many live runs or started too many this
    hour. A run refused for the first quota does not count against the second."""
    settings = get_settings()
    live = repository.live_runs(conn)
    if live > settings.quota_concurrent_runs:
        limit = settings.quota_concurrent_runs
        raise QuotaExceeded(
            f"At most {limit} runs at once (queued, running or waiting for input): wait for one to"
            " end, or cancel one",
            quota=Quota.CONCURRENT_RUNS,
            limit=limit,
            used=live - 1,
            resets_at=None,
            retry_after_seconds=CONCURRENT_RUNS_RETRY_AFTER_S,
        )
    window = rate_windows.window_at(now, HOUR)
    limit = settings.quota_runs_per_hour
    bucket = _bucket(Quota.RUNS_PER_HOUR, user_id)
    if not rate_windows.consume(conn, bucket, window, limit=limit):
        raise _window_refusal(
            f"At most {limit} runs started per hour",
            Quota.RUNS_PER_HOUR,
            limit=limit,
            used=rate_windows.used(conn, bucket, window),
            window=window,
            now=now,
        )


# ----------------------------------------------------------------------------------------- LLM


def admit_chat_call(user_id: str, *, now: datetime) -> None:
    """One call of the chat route, or `QuotaExceeded` (recorded) past the minute's limit."""
    window = rate_windows.window_at(now, MINUTE)
    limit = get_settings().quota_llm_chat_per_minute
    bucket = _bucket(Quota.LLM_CHAT_PER_MINUTE, user_id)
    with recorded(user_id), tenant_transaction(user_id) as conn:
        if not rate_windows.consume(conn, bucket, window, limit=limit):
            used = rate_windows.used(conn, bucket, window)
            message = f"At most {limit} chat calls per minute"
            raise _window_refusal(
                message, Quota.LLM_CHAT_PER_MINUTE, limit=limit, used=used, window=window, now=now
            )


@dataclass(frozen=True)
class LlmReservation:
    """What an admitted call the service pays for holds of the day's budget until it settles."""

    user_id: str
    window: Window
    tokens: int
    micro_usd: int


def reserve_llm(user_id: str, *, tokens: int, cost_usd: Decimal, now: datetime) -> LlmReservation:
    """Hold ``tokens`` and ``cost_usd`` (a bound of the call) of the user's day, or raise
    `QuotaExceeded` (recorded) and hold nothing."""
    settings = get_settings()
    window = rate_windows.window_at(now, DAY)
    reservation = LlmReservation(
        user_id=user_id, window=window, tokens=max(tokens, 1), micro_usd=max(_micro_usd(cost_usd), 1)
    )
    budgets = (
        (Quota.LLM_TOKENS_PER_DAY, settings.quota_llm_tokens_per_day, reservation.tokens),
        (Quota.LLM_COST_PER_DAY_USD, _micro_usd(settings.quota_llm_cost_per_day_usd), reservation.micro_usd),
    )
    with recorded(user_id), tenant_transaction(user_id) as conn:
        for quota, limit, amount in budgets:
            bucket = _bucket(quota, user_id)
            if not rate_windows.consume(conn, bucket, window, limit=limit, amount=amount):
                used = rate_windows.used(conn, bucket, window)
                raise _llm_refusal(quota, limit=limit, used=used, amount=amount, window=window, now=now)
    return reservation


def settle_llm(reservation: LlmReservation, *, tokens: int, cost_usd: Decimal) -> None:
    """Replace the reservation by what the call spent (nothing, for a failed call)."""
    changes = (
        (Quota.LLM_TOKENS_PER_DAY, tokens - reservation.tokens),
        (Quota.LLM_COST_PER_DAY_USD, _micro_usd(cost_usd) - reservation.micro_usd),
    )
    try:
        with tenant_transaction(reservation.user_id) as conn:
            for quota, change in changes:
                rate_windows.add(conn, _bucket(quota, reservation.user_id), reservation.window, change)
    except (ServiceUnavailable, psycopg.Error):
        # The call is made and its answer must reach the caller; the reservation stays counted.
        logger.warning("llm quota not settled", exc_info=True)


def _llm_refusal(
    quota: Quota, *, limit: int, used: int, amount: int, window: Window, now: datetime
) -> QuotaExceeded:
    if quota == Quota.LLM_TOKENS_PER_DAY:
        message = f"This call may take {amount} tokens; {used} of {limit} tokens the service pays for"
        message += " are used today"
        return _window_refusal(message, quota, limit=limit, used=used, window=window, now=now)
    message = (
        f"This call may cost ${_usd(amount)}; ${_usd(used)} of ${_usd(limit)} the service pays for"
        " are spent today"
    )
    return _window_refusal(message, quota, limit=_usd(limit), used=_usd(used), window=window, now=now)


# ------------------------------------------------------------------------------------ standing


def usage(identity: Identity, *, now: datetime) -> UsageReport:
    """The caller's standing on every quota, and their latest refusals."""
    settings = get_settings()
    minute, hour, day = (rate_windows.window_at(now, seconds) for seconds in (MINUTE, HOUR, DAY))
    with tenant_transaction(identity.sub) as conn:
        live = repository.live_runs(conn)
        counted = {
            quota: rate_windows.used(conn, _bucket(quota, identity.sub), window)
            for quota, window in (
                (Quota.RUNS_PER_HOUR, hour),
                (Quota.LLM_TOKENS_PER_DAY, day),
                (Quota.LLM_COST_PER_DAY_USD, day),
                (Quota.LLM_CHAT_PER_MINUTE, minute),
            )
        }
        refusals = repository.recent_refusals(conn, limit=RECENT_REFUSALS)
    quotas = [
        _standing(Quota.CONCURRENT_RUNS, "concurrent", settings.quota_concurrent_runs, live, None),
        _standing(
            Quota.RUNS_PER_HOUR, "hour", settings.quota_runs_per_hour, counted[Quota.RUNS_PER_HOUR], hour
        ),
        _standing(
            Quota.LLM_TOKENS_PER_DAY,
            "day",
            settings.quota_llm_tokens_per_day,
            counted[Quota.LLM_TOKENS_PER_DAY],
            day,
        ),
        _standing(
            Quota.LLM_COST_PER_DAY_USD,
            "day",
            settings.quota_llm_cost_per_day_usd,
            _usd(counted[Quota.LLM_COST_PER_DAY_USD]),
            day,
        ),
        _standing(
            Quota.LLM_CHAT_PER_MINUTE,
            "minute",
            settings.quota_llm_chat_per_minute,
            counted[Quota.LLM_CHAT_PER_MINUTE],
            minute,
        ),
    ]
    return UsageReport(
        quotas=quotas,
        recent_refusals=[
            QuotaRefusal(
                quota=row["quota"],
                limit=float(row["limit_value"]),
                used=float(row["used"]),
                resets_at=row["resets_at"],
                refused_at=row["created_at"],
            )
            for row in refusals
        ],
    )


def _standing(
    quota: Quota, window_name: WindowName, limit: int | Decimal, used: int | Decimal, window: Window | None
) -> QuotaStanding:
    return QuotaStanding(
        quota=quota,
        window=window_name,
        limit=float(limit),
        used=float(used),
        remaining=float(max(Decimal(limit) - Decimal(used), Decimal(0))),
        resets_at=None if window is None else window.end,
    )


def _window_refusal(
    message: str,
    quota: Quota,
    *,
    limit: int | Decimal,
    used: int | Decimal,
    window: Window,
    now: datetime,
) -> QuotaExceeded:
    return QuotaExceeded(
        f"{message}; the count starts again at {window.end.isoformat()}",
        quota=quota,
        limit=limit,
        used=used,
        resets_at=window.end,
        retry_after_seconds=window.seconds_left(now),
    )


def _micro_usd(cost_usd: Decimal) -> int:
    return math.ceil(cost_usd * _MICRO)


def _usd(micro_usd: int) -> Decimal:
    return Decimal(micro_usd) / _MICRO
