"""Fixtures of the infra tests: the template, read once, and its two configurations."""

from __future__ import annotations

from typing import Any

import pytest

from infra.template import load_template, resolve_conditions
from tests.infra.template_support import MODES, TEMPLATE_PATH


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session", params=sorted(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def resolved(template: dict[str, Any], mode: str) -> dict[str, Any]:
    """The template as SAM receives it in one configuration."""
    return resolve_conditions(template, MODES[mode])
