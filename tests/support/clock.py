"""A clock that tests move by hand: `sleep` returns at once and advances time by the amount asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """Wall time and monotonic time advance together, only when a test or a `sleep` says so."""

    def __init__(self, start: datetime | None = None, *, monotonic_start: float = 1_000.0) -> None:
        self._now = start or datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
        self._monotonic = monotonic_start
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump the wall clock (monotonic time moves by the same amount; never backwards)."""
        delta = (moment - self._now).total_seconds()
        if delta < 0:
            raise ValueError("a FakeClock never goes backwards")
        self.advance(delta)
