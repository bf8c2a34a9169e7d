"""Fires the template's `Schedule` events on a timer, as EventBridge would (moto never fires them).

`rate(...)` schedules fire one interval after the start and then every interval; `cron(...)`
schedules fire at the matching minutes (UTC, EventBridge's six fields). The `L`, `W` and `#`
day rules are not emulated: such a schedule is logged as unsupported and never fires on its own,
though `fire()` still invokes it on demand.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.local.lambdas import ACCOUNT_ID, REGION
from infra.template import ScheduleSpec

log = logging.getLogger("infra.local.scheduler")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_NAME = re.compile(r"[A-Z]{3}")
_NUMERIC_RULE = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {name: index for index, name in enumerate(_MONTH_NAMES, 1)}
_WEEKDAYS = {name: index for index, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
# (lowest, highest, names) of minute, hour, day of month, month, day of week (1 = Sunday), year.
_CRON_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, _MONTHS),
    (1, 7, _WEEKDAYS),
    (1970, 2199, {}),
)


class UnsupportedSchedule(ValueError):
    pass


def _cron_values(text: str, lowest: int, highest: int, names: dict[str, int]) -> frozenset[int]:
    if text in {"*", "?"}:
        return frozenset(range(lowest, highest + 1))
    values: set[int] = set()
    for raw_part in text.upper().split(","):
        part = _NAME.sub(lambda name: str(names.get(name[0], name[0])), raw_part)
        if not _NUMERIC_RULE.match(part):
            raise UnsupportedSchedule(f"cron rule {raw_part!r} (L, W and # are not emulated)")
        span, _, step_text = part.partition("/")
        if span == "*":
            first, last = lowest, highest
        else:
            first_text, _, last_text = span.partition("-")
            first = int(first_text)
            last = int(last_text) if last_text else (highest if step_text else first)
        if not lowest <= first <= last <= highest:
            raise UnsupportedSchedule(f"cron field {part!r} is out of range {lowest}-{highest}")
        values.update(range(first, last + 1, int(step_text) if step_text else 1))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    years: frozenset[int]

    @classmethod
    def parse(cls, fields: str) -> Cron:
        parts = fields.split()
        if len(parts) != 6:
            raise UnsupportedSchedule(f"cron({fields}) needs six fields")
        values = [_cron_values(part, *spec) for part, spec in zip(parts, _CRON_FIELDS, strict=True)]
        return cls(*values)

    def _day_matches(self, moment: datetime) -> bool:
        weekday = moment.isoweekday() % 7 + 1  # EventBridge counts Sunday as 1
        return moment.day in self.days and weekday in self.weekdays

    def next_after(self, moment: datetime) -> datetime | None:
        """The first matching minute strictly after ``moment``, within five years."""
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        horizon = moment + timedelta(days=5 * 366)
        while candidate < horizon:
            if candidate.year not in self.years or candidate.month not in self.months:
                candidate = (candidate.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(candidate):
                candidate = candidate.replace(hour=0, minute=0) + timedelta(days=1)
            elif candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0) + timedelta(hours=1)
            elif candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
            else:
                return candidate
        return None


def next_fire_time(expression: str, after: datetime, *, started: datetime) -> datetime | None:
    """When a schedule fires next after ``after``; rates count from ``started``."""
    rate = _RATE.match(expression.strip())
    if rate:
        interval = timedelta(seconds=int(rate[1]) * _UNIT_SECONDS[rate[2].rstrip("s")])
        if interval <= timedelta(0):
            raise UnsupportedSchedule(f"{expression}: the rate must be positive")
        periods = (after - started) // interval + 1
        return started + periods * interval
    cron = _CRON.match(expression.strip())
    if cron:
        return Cron.parse(cron[1]).next_after(after)
    raise UnsupportedSchedule(f"{expression!r} is neither rate(...) nor cron(...)")


def scheduled_event(spec: ScheduleSpec, when: datetime) -> Any:
    """What EventBridge sends: the rule's `Input` when it has one, else a Scheduled Event."""
    if spec.input is not None:
        return json.loads(spec.input)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{spec.function_id}-{spec.event_name}"],
        "detail": {},
    }


class Scheduler:
    """A timer thread that invokes each enabled schedule's function when it is due."""

    def __init__(
        self,
        schedules: Iterable[ScheduleSpec],
        invoke: Callable[[str, Any], Any],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.schedules = list(schedules)
        self._invoke = invoke
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def fire(self, function_id: str) -> Any:
        """Invoke the function's first schedule now, on this thread, and return its result."""
        spec = next((spec for spec in self.schedules if spec.function_id == function_id), None)
        if spec is None:
            raise LookupError(f"{function_id} has no schedule in the template")
        return self._invoke(function_id, scheduled_event(spec, self._clock()))

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _timed_schedules(self, started: datetime) -> list[tuple[ScheduleSpec, datetime]]:
        timed = []
        for spec in self.schedules:
            if not spec.enabled:
                continue
            try:
                due = next_fire_time(spec.expression, started, started=started)
            except UnsupportedSchedule as exc:
                log.warning("schedule %s.%s not fired: %s", spec.function_id, spec.event_name, exc)
                continue
            if due is not None:
                log.info("schedule %s.%s (%s) next at %s", spec.function_id, spec.event_name, spec.expression,
                         due.isoformat())  # fmt: skip
                timed.append((spec, due))
        return timed

    def _run(self) -> None:
        started = self._clock()
        timed = self._timed_schedules(started)
        while timed and not self._stop.is_set():
            now = self._clock()
            for index, (spec, due) in enumerate(timed):
                if due <= now:
                    self._fire_in_background(spec, due)
                    following = next_fire_time(spec.expression, due, started=started)
                    timed[index] = (
                        (spec, following) if following else (spec, datetime.max.replace(tzinfo=UTC))
                    )
            wait_s = (min(due for _, due in timed) - self._clock()).total_seconds()
            # Re-read the clock at least every minute, so that a suspended laptop catches up.
            self._stop.wait(min(max(wait_s, 0.0), 60.0))

    def _fire_in_background(self, spec: ScheduleSpec, due: datetime) -> None:
        def run() -> None:
            try:
                self._invoke(spec.function_id, scheduled_event(spec, due))
                log.info("schedule %s.%s fired", spec.function_id, spec.event_name)
            except Exception:
                log.exception("schedule %s.%s failed", spec.function_id, spec.event_name)

        threading.Thread(target=run, name=f"schedule-{spec.function_id}", daemon=True).start()
