"""Handlers loaded in-process by path, under their own module names, with a Lambda context."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from auralink.observability import logger
from infra.local.lambdas import (
    LambdaContext,
    LocalFunctions,
    UnknownFunction,
    function_arn,
    function_name_from,
)
from infra.template import FunctionSpec

HANDLER = """
LOADS = globals().get("LOADS", 0) + 1
NAME = {name!r}

def lambda_handler(event, context):
    return {{"name": NAME, "event": event, "function": context.function_name,
             "remaining": context.get_remaining_time_in_millis(), "arn": context.invoked_function_arn}}
"""


def write_function(root: Path, folder: str, name: str) -> FunctionSpec:
    (root / folder).mkdir(parents=True)
    (root / folder / "app.py").write_text(HANDLER.format(name=name))
    return FunctionSpec(name, folder, "app.lambda_handler", timeout=10, memory_size=256, environment={},
                        auto_publish_alias=None)  # fmt: skip


def test_each_app_py_is_its_own_module(tmp_path: Path) -> None:
    functions = LocalFunctions(
        tmp_path, [write_function(tmp_path, "a", "First"), write_function(tmp_path, "b", "Second")]
    )

    first = functions.invoke("First", {"n": 1})
    second = functions.invoke("Second", {"n": 2})

    assert (first["name"], first["event"], first["function"]) == ("First", {"n": 1}, "First")
    assert (second["name"], second["event"]) == ("Second", {"n": 2})
    assert 9_000 < first["remaining"] <= 10_000
    assert first["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:First"


def test_handler_is_loaded_once(tmp_path: Path) -> None:
    functions = LocalFunctions(tmp_path, [write_function(tmp_path, "a", "Only")])

    handler = functions.handler("Only")
    functions.invoke("Only", {})

    assert functions.handler("Only") is handler
    assert handler.__globals__["LOADS"] == 1


def test_failed_init_is_retried_on_the_next_invocation(tmp_path: Path) -> None:
    spec = write_function(tmp_path, "a", "Flaky")
    app = tmp_path / "a" / "app.py"
    good = app.read_text()
    app.write_text("raise RuntimeError('cold start failed')\n")
    functions = LocalFunctions(tmp_path, [spec])

    with pytest.raises(RuntimeError, match="cold start failed"):
        functions.invoke("Flaky", {})
    app.write_text(good)

    assert functions.invoke("Flaky", {})["name"] == "Flaky"


def test_functions_are_found_by_name_or_arn(tmp_path: Path) -> None:
    functions = LocalFunctions(tmp_path, [write_function(tmp_path, "a", "Step")])

    for name in ("Step", function_arn("Step"), function_arn("Step", "live"), "123456789012:function:Step"):
        assert functions.resolve(name) == "Step"
    with pytest.raises(UnknownFunction):
        functions.resolve("Missing")


def test_function_name_from_arn() -> None:
    assert function_name_from("arn:aws:lambda:us-east-1:123456789012:function:Step:live") == "Step"
    assert function_name_from("Step:3") == "Step"


def test_context_counts_down_from_the_timeout() -> None:
    context = LambdaContext(
        function_name="F", invoked_function_arn="arn", memory_limit_in_mb=128, timeout_s=1
    )

    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)

    assert first <= 1000
    assert context.get_remaining_time_in_millis() <= first - 40
    assert context.aws_request_id and context.log_group_name == "/aws/lambda/F"


def test_unload_makes_the_next_invocation_a_cold_start(tmp_path: Path) -> None:
    functions = LocalFunctions(tmp_path, [write_function(tmp_path, "a", "Once")])
    first = functions.handler("Once")

    functions.unload()

    assert "auralink_local_function_Once" not in sys.modules
    assert functions.handler("Once") is not first


def test_logger_keys_of_an_invocation_do_not_outlive_it(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "app.py").write_text(
        "from auralink.observability import logger\n"
        "def lambda_handler(event, context):\n"
        "    logger.set_correlation_id(event['id'])\n"
        "    logger.append_keys(user_id='alice')\n"
        "    return logger.get_correlation_id()\n"
    )
    spec = FunctionSpec("Tagger", "a", "app.lambda_handler", 10, 128, {}, None)

    assert LocalFunctions(tmp_path, [spec]).invoke("Tagger", {"id": "run-1"}) == "run-1"

    assert logger.get_correlation_id() is None
    assert "user_id" not in logger.get_current_keys()
