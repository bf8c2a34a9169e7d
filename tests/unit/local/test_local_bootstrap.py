"""The runtime inside an environment: the context, the error payloads, the result's JSON."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest

from infra.local.bootstrap import LambdaContext, _invoke, error_payload
from infra.local.lambdas import function_name_from


def context(timeout_ms: int = 1000) -> LambdaContext:
    return LambdaContext(function_name="F", invoked_function_arn="arn", memory_limit_in_mb=128,
                         timeout_ms=timeout_ms, aws_request_id="req-1")  # fmt: skip


def test_context_counts_down_from_the_timeout() -> None:
    given = context()

    first = given.get_remaining_time_in_millis()
    time.sleep(0.05)

    assert first <= 1000
    assert given.get_remaining_time_in_millis() <= first - 40
    assert given.aws_request_id == "req-1" and given.log_group_name == "/aws/lambda/F"


def test_a_result_is_sent_as_json_with_decimals_as_numbers() -> None:
    answer = _invoke(lambda event, _: {"total": Decimal("1.5"), "event": event}, {"n": 1}, context())

    assert answer["type"] == "result"
    assert json.loads(answer["payload"]) == {"total": 1.5, "event": {"n": 1}}


def test_an_exception_becomes_lambdas_error_payload_with_the_request_id() -> None:
    def handler(event: Any, _: Any) -> None:
        raise KeyError(event["missing"])

    answer = _invoke(handler, {"missing": "x"}, context())

    assert answer["type"] == "error"
    assert answer["error"]["errorType"] == "KeyError"
    assert answer["error"]["requestId"] == "req-1"
    assert any("handler" in line for line in answer["error"]["stackTrace"])


@pytest.mark.parametrize("result", [{1, 2}, {"bytes": b"x"}, object()])
def test_a_result_that_is_not_json_is_a_marshal_error(result: Any) -> None:
    answer = _invoke(lambda *_: result, {}, context())

    assert answer["error"]["errorType"] == "Runtime.MarshalError"
    assert answer["error"]["errorMessage"].startswith("Unable to marshal response")


def test_error_payload_names_the_type_unless_told() -> None:
    assert error_payload(ValueError("bad"))["errorType"] == "ValueError"
    assert error_payload(ValueError("bad"), error_type="Runtime.X", message="m")["errorMessage"] == "m"


def test_function_name_from_arn() -> None:
    assert function_name_from("arn:aws:lambda:us-east-1:123456789012:function:Step:live") == "Step"
    assert function_name_from("Step:3") == "Step"
