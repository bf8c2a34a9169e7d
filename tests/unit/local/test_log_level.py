"""`make dev`'s LOCAL_LOG_LEVEL: the level of the runtime's own lines, checked before anything starts."""

from __future__ import annotations

import pytest

from infra.local.__main__ import _log_level


def test_the_runtime_logs_at_info_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_LOG_LEVEL", raising=False)
    assert _log_level() == "INFO"
    monkeypatch.setenv("LOCAL_LOG_LEVEL", "debug")
    assert _log_level() == "DEBUG"


def test_an_unknown_level_stops_the_runtime_with_the_levels_it_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_LOG_LEVEL", "loud")
    with pytest.raises(
        SystemExit, match="LOCAL_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, not 'LOUD'"
    ):
        _log_level()
