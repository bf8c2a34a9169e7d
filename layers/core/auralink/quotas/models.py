"""The quotas, their refusal, and a user's standing as `GET /api/v1/usage` shows it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field

from auralink.errors import RateLimited
from auralink.model import DeferredModel

QUOTA_EXCEEDED = "quota_exceeded"
WindowName = Literal["concurrent", "minute", "hour", "day"]


class Quota(StrEnum):
    CONCURRENT_RUNS = "concurrent_runs"
    RUNS_PER_HOUR = "runs_per_hour"
    LLM_TOKENS_PER_DAY = "llm_tokens_per_day"
    LLM_COST_PER_DAY_USD = "llm_cost_per_day_usd"
    LLM_CHAT_PER_MINUTE = "llm_chat_per_minute"


class QuotaExceeded(RateLimited):
    """A quota of the user's is used up (429 ``quota_exceeded``); the details say which one."""

    code = QUOTA_EXCEEDED

    def __init__(
        self,
        message: str,
        *,
        quota: Quota,
        limit: int | Decimal,
        used: int | Decimal,
        resets_at: datetime | None,
        retry_after_seconds: int,
    ) -> None:
        super().__init__(message, code=QUOTA_EXCEEDED, retry_after_seconds=retry_after_seconds)
        self.quota = quota
        self.limit = limit
        self.used = used
        self.resets_at = resets_at
        self.details = {
            "quota": quota.value,
            "limit": _number(limit),
            "used": _number(used),
            "resets_at": None if resets_at is None else resets_at.isoformat(),
            "retry_after_seconds": retry_after_seconds,
        }


def _number(value: int | Decimal) -> int | float:
    return value if isinstance(value, int) else float(value)


class QuotaStanding(DeferredModel):
    """One quota as it stands for the caller now."""

    quota: Quota
    window: WindowName
    # Whole numbers for runs, calls and tokens; dollars may have cents.
    limit: int | float = Field(description="Runs, calls, tokens, or US dollars")
    used: int | float
    remaining: int | float
    resets_at: datetime | None = Field(
        description="When the window ends and the count starts again; null for concurrent runs"
    )


class QuotaRefusal(DeferredModel):
    quota: Quota
    limit: int | float
    used: int | float
    resets_at: datetime | None
    refused_at: datetime


class UsageReport(DeferredModel):
    """The caller's quotas and their latest refusals (newest first)."""

    quotas: list[QuotaStanding]
    recent_refusals: list[QuotaRefusal]
