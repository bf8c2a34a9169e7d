"""Schedules of the template, fired locally: expressions, events, and the timer loop."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.local.scheduler import Scheduler, UnsupportedSchedule, next_fire_time, scheduled_event
from infra.template import ScheduleSpec

NOW = datetime(2026, 11, 26, 23, 7, 30, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(15 minutes)", datetime(2026, 11, 26, 23, 22, 30, tzinfo=UTC)),
        ("rate(1 minute)", datetime(2026, 11, 26, 23, 8, 30, tzinfo=UTC)),
        ("rate(2 hours)", datetime(2026, 11, 27, 1, 7, 30, tzinfo=UTC)),
        ("rate(1 day)", datetime(2026, 11, 27, 23, 7, 30, tzinfo=UTC)),
        ("cron(0/15 * * * ? *)", datetime(2026, 11, 26, 23, 15, tzinfo=UTC)),
        ("cron(0 12 ? * MON-FRI *)", datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),
        ("cron(0 12 ? * SAT,SUN *)", datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
        ("cron(30 2 1 JAN,JUL ? *)", datetime(2027, 1, 1, 2, 30, tzinfo=UTC)),
        ("cron(5 * * * ? *)", datetime(2026, 11, 27, 0, 5, tzinfo=UTC)),
    ],
)
def test_next_fire_time(expression: str, expected: datetime) -> None:
    assert next_fire_time(expression, NOW, started=NOW) == expected


def test_rate_keeps_its_phase() -> None:
    later = NOW + timedelta(minutes=31)

    assert next_fire_time("rate(15 minutes)", later, started=NOW) == NOW + timedelta(minutes=45)


def test_cron_of_a_past_year_never_fires() -> None:
    assert next_fire_time("cron(5 4 * * ? 2025)", NOW, started=NOW) is None


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 9 ? * 6L *)",
        "cron(0 9 15W * ? *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 9 * *)",
        "every day",
        "rate(0 minutes)",
    ],
)
def test_unsupported_expressions_are_refused(expression: str) -> None:
    with pytest.raises(UnsupportedSchedule):
        next_fire_time(expression, NOW, started=NOW)


def spec(input_text: str | None = None, expression: str = "rate(15 minutes)") -> ScheduleSpec:
    return ScheduleSpec("RefreshFunction", "Every15Minutes", expression, input_text, enabled=True)


def test_scheduled_event_looks_like_eventbridge() -> None:
    event = scheduled_event(spec(), NOW)

    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-11-26T23:07:30Z"
    assert event["resources"][0].endswith(":rule/RefreshFunction-Every15Minutes")
    assert event["detail"] == {}


def test_rule_input_replaces_the_event() -> None:
    assert scheduled_event(spec(input_text=json.dumps({"views": ["a"]})), NOW) == {"views": ["a"]}


def test_fire_invokes_now_and_returns_the_result() -> None:
    calls: list[tuple[str, Any]] = []
    scheduler = Scheduler([spec()], lambda function_id, event: calls.append((function_id, event)) or "done")

    assert scheduler.fire("RefreshFunction") == "done"
    assert calls[0][0] == "RefreshFunction"
    with pytest.raises(LookupError):
        scheduler.fire("NoSuchFunction")


def test_timer_fires_due_schedules_and_stops() -> None:
    # A clock that moves a quarter of an hour each time it is read: every loop finds a schedule due.
    moments = (NOW + timedelta(minutes=15 * index) for index in range(10_000))
    fired = threading.Event()
    events: list[Any] = []

    def invoke(function_id: str, event: Any) -> None:
        events.append(event)
        fired.set()

    disabled = ScheduleSpec("Other", "Off", "rate(1 minute)", None, enabled=False)
    scheduler = Scheduler([spec(), disabled], invoke, clock=lambda: next(moments))
    scheduler.start()
    try:
        assert fired.wait(5)
    finally:
        scheduler.stop()

    assert events[0]["resources"][0].endswith("rule/RefreshFunction-Every15Minutes")
    assert all("Other" not in event["resources"][0] for event in events)
