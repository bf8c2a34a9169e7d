"""Requests and answers of the chat and metrics endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from auralink.llm.chat_types import MAX_STOP_SEQUENCES, ChatMessage, StopSequence, ToolCall, ToolSpec, Usage
from auralink.model import DeferredModel


class ChatRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    # `<provider>/<model>`; the caller's default model when left out.
    model: str | None = Field(default=None, max_length=300)
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    tools: list[ToolSpec] = Field(default_factory=list, max_length=128)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    stop: list[StopSequence] = Field(
        default_factory=list,
        max_length=MAX_STOP_SEQUENCES,
        description="Text that ends the answer where the model writes it (left out of the answer)",
    )


class ChatResponse(DeferredModel):
    model: str
    content: str | None
    tool_calls: list[ToolCall]
    usage: Usage
    cost_usd: float
    latency_ms: int
    finish_reason: str | None


class ModelMetrics(DeferredModel):
    model: str
    provider: str
    calls: int
    errors: int
    error_rate: float
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float


class MetricsReport(DeferredModel):
    window_hours: int
    since: datetime
    models: list[ModelMetrics]


class ModelComparison(DeferredModel):
    model: str
    provider: str
    calls: int
    errors: int
    error_rate: float
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cost_per_1k_output_tokens: float | None
    last_call_at: datetime | None


class Comparison(DeferredModel):
    models: list[ModelComparison]
    refreshed: str = "every 15 minutes"


def as_float(value: Any) -> float:
    return float(value) if value is not None else 0.0
