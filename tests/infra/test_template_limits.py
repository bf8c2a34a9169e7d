"""Limits the API's functions must respect, which the local runtime relies on."""

from __future__ import annotations

from typing import Any

from infra.template import functions

# HTTP API gives up on an integration after 30 s; Lambda needs the rest to report a timeout.
API_GATEWAY_LIMIT_S = 29


def test_every_function_behind_the_api_times_out_before_api_gateway(template: dict[str, Any]) -> None:
    too_slow = {
        spec.logical_id: spec.timeout
        for spec in functions(template)
        if spec.routes and spec.timeout > API_GATEWAY_LIMIT_S
    }

    assert too_slow == {}
