"""Functions run as Lambda runs them: environments are processes, one invocation at a time each.

Every test writes small handlers into a temporary folder and invokes them through `LocalFunctions`
(the pool behind the local runtime's API, Step Functions tasks and schedules).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.local.lambdas import FunctionError, LocalFunctions, TooManyRequests, UnknownFunction, function_arn
from infra.template import FunctionSpec, ImageSpec

HANDLER = """
import os, time
LOADS = globals().get("LOADS", 0) + 1
CALLS = 0

def lambda_handler(event, context):
    global CALLS
    CALLS += 1
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid(), "calls": CALLS, "loads": LOADS, "event": event,
            "function": context.function_name, "arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis(), "memory": context.memory_limit_in_mb,
            "color": os.environ.get("COLOR"), "lambda_name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME")}
"""


def write(root: Path, name: str, code: str = HANDLER, *, timeout: int = 10, memory: int = 256,
          reserved: int | None = None) -> FunctionSpec:  # fmt: skip
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / "app.py").write_text(code)
    return FunctionSpec(name, name, "app.lambda_handler", timeout=timeout, memory_size=memory, environment={},
                        auto_publish_alias=None, reserved_concurrency=reserved)  # fmt: skip


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[Any]:
    """Functions of the test's own, configured with ``COLOR=blue``; all environments end with the test."""
    made: list[LocalFunctions] = []

    def make(*specs: FunctionSpec, concurrency: int = 10) -> LocalFunctions:
        functions = LocalFunctions(tmp_path, specs, default_concurrency=concurrency)
        functions.configure({spec.logical_id: {"COLOR": "blue"} for spec in specs})
        made.append(functions)
        return functions

    yield make
    for functions in made:
        functions.unload()


def test_an_invocation_gets_the_event_a_context_and_the_functions_variables(
    pool: Any, tmp_path: Path
) -> None:
    functions = pool(write(tmp_path, "First"), write(tmp_path, "Second"))

    first = functions.invoke("First", {"n": 1})
    second = functions.invoke("Second", {"n": 2})

    assert (first["event"], first["function"], first["lambda_name"]) == ({"n": 1}, "First", "First")
    assert first["arn"] == function_arn("First")
    assert 9_000 < first["remaining"] <= 10_000
    assert (first["memory"], first["color"]) == (256, "blue")
    # Each function is its own process, with its own copy of every module.
    assert second["event"] == {"n": 2}
    assert second["pid"] != first["pid"]


def test_a_warm_environment_keeps_its_globals(pool: Any, tmp_path: Path) -> None:
    functions = pool(write(tmp_path, "Warm"))

    first, second = functions.invoke("Warm", {}), functions.invoke("Warm", {})

    assert second["pid"] == first["pid"]
    assert (first["calls"], second["calls"], second["loads"]) == (1, 2, 1)
    assert functions.environment_count("Warm") == 1


def test_concurrent_invocations_get_environments_of_their_own(pool: Any, tmp_path: Path) -> None:
    functions = pool(write(tmp_path, "Busy"))

    with ThreadPoolExecutor(max_workers=4) as threads:
        results = list(threads.map(lambda n: functions.invoke("Busy", {"n": n, "sleep": 0.5}), range(4)))

    # One invocation at a time per environment: four at once took four environments, and each
    # environment served exactly one of them.
    assert len({result["pid"] for result in results}) == 4
    assert [result["calls"] for result in results] == [1, 1, 1, 1]
    assert sorted(result["event"]["n"] for result in results) == [0, 1, 2, 3]
    assert functions.environment_count("Busy") == 4


def test_past_the_concurrency_limit_an_invocation_is_throttled(pool: Any, tmp_path: Path) -> None:
    functions = pool(write(tmp_path, "Limited", reserved=2))
    release = threading.Event()
    outcomes: list[Any] = []

    def call(n: int) -> None:
        try:
            outcomes.append(functions.invoke("Limited", {"sleep": 1.0 if n < 2 else 0}))
        except TooManyRequests as exc:
            outcomes.append(exc)
        release.set()

    busy = [threading.Thread(target=call, args=(n,)) for n in range(2)]
    for thread in busy:
        thread.start()
    _wait_for(lambda: functions.environment_count("Limited") == 2)
    with pytest.raises(TooManyRequests, match="concurrency limit of 2"):
        functions.invoke("Limited", {})
    # A caller that Lambda would retry for waits for an environment instead.
    assert functions.invoke("Limited", {"n": "late"}, wait_s=30)["event"] == {"n": "late"}
    for thread in busy:
        thread.join()
    assert functions.environment_count("Limited") == 2


def test_the_default_limit_applies_to_a_function_that_reserves_nothing(pool: Any, tmp_path: Path) -> None:
    functions = pool(write(tmp_path, "Default"), concurrency=1)
    blocker = threading.Thread(target=functions.invoke, args=("Default", {"sleep": 1.0}))
    blocker.start()
    _wait_for(lambda: functions.environment_count("Default") == 1)

    with pytest.raises(TooManyRequests):
        functions.invoke("Default", {})
    blocker.join()


def test_a_handler_error_is_reported_as_lambda_does_and_the_environment_lives_on(
    pool: Any, tmp_path: Path
) -> None:
    code = HANDLER + "\ndef failing(event, context):\n    raise ValueError('no ' + event['what'])\n"
    spec = write(tmp_path, "Failing", code)
    functions = pool(FunctionSpec(**{**spec.__dict__, "handler": "app.failing"}))

    with pytest.raises(FunctionError) as raised:
        functions.invoke("Failing", {"what": "luck"})

    assert raised.value.payload["errorType"] == "ValueError"
    assert raised.value.payload["errorMessage"] == "no luck"
    assert any("app.py" in line for line in raised.value.payload["stackTrace"])
    assert not any("bootstrap" in line for line in raised.value.payload["stackTrace"])
    assert functions.environment_count("Failing") == 1


def test_an_invocation_past_the_timeout_is_ended_and_its_environment_replaced(
    pool: Any, tmp_path: Path
) -> None:
    functions = pool(write(tmp_path, "Slow", timeout=1))
    before = functions.invoke("Slow", {})

    with pytest.raises(FunctionError) as raised:
        functions.invoke("Slow", {"sleep": 5})

    assert raised.value.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in raised.value.payload["errorMessage"]
    assert functions.environment_count("Slow") == 0
    after = functions.invoke("Slow", {})
    assert after["pid"] != before["pid"] and after["calls"] == 1


def test_an_invocation_past_the_memory_size_is_killed(pool: Any, tmp_path: Path) -> None:
    code = "import time\ndef lambda_handler(event, context):\n    hog = bytearray(400 * 2**20)\n" \
           "    time.sleep(2)\n    return len(hog)\n"  # fmt: skip
    functions = pool(write(tmp_path, "Hungry", code, memory=128))

    with pytest.raises(FunctionError) as raised:
        functions.invoke("Hungry", {})

    assert raised.value.error_type == "Runtime.OutOfMemory"
    assert functions.environment_count("Hungry") == 0


def test_a_failed_init_is_reported_and_retried_by_the_next_invocation(pool: Any, tmp_path: Path) -> None:
    spec = write(tmp_path, "Flaky", "raise RuntimeError('cold start failed')\n")
    functions = pool(spec)

    with pytest.raises(FunctionError) as raised:
        functions.invoke("Flaky", {})
    assert raised.value.payload == {**raised.value.payload, "errorType": "RuntimeError",
                                    "errorMessage": "cold start failed"}  # fmt: skip
    assert functions.environment_count("Flaky") == 0

    write(tmp_path, "Flaky")
    assert functions.invoke("Flaky", {})["loads"] == 1


def test_a_missing_module_or_handler_is_named(pool: Any, tmp_path: Path) -> None:
    spec = write(tmp_path, "Broken", "import not_a_module_anywhere\n")
    functions = pool(spec, FunctionSpec(**{**write(tmp_path, "Nameless").__dict__, "handler": "app.missing"}))

    with pytest.raises(FunctionError) as missing_module:
        functions.invoke("Broken", {})
    with pytest.raises(FunctionError) as missing_handler:
        functions.invoke("Nameless", {})

    assert missing_module.value.error_type == "ModuleNotFoundError"
    assert missing_handler.value.error_type == "Runtime.HandlerNotFound"


def test_a_result_that_is_not_json_is_a_marshal_error(pool: Any, tmp_path: Path) -> None:
    functions = pool(write(tmp_path, "Sets", "def lambda_handler(event, context):\n    return {1, 2}\n"))

    with pytest.raises(FunctionError) as raised:
        functions.invoke("Sets", {})

    assert raised.value.error_type == "Runtime.MarshalError"


def test_a_configuration_change_applies_to_new_environments(pool: Any, tmp_path: Path) -> None:
    functions = pool(write(tmp_path, "Colored"))
    before = functions.invoke("Colored", {})

    functions.update_environment("Colored", {"COLOR": "red"})
    after = functions.invoke("Colored", {})

    assert (before["color"], after["color"]) == ("blue", "red")
    assert after["pid"] != before["pid"]
    assert functions.variables("Colored") == {"COLOR": "red"}


def test_cold_starts_are_logged_with_their_init_time_and_each_invocation_with_its_duration(
    pool: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    functions = pool(write(tmp_path, "Logged"))

    with caplog.at_level(logging.DEBUG, logger="infra.local.lambdas"):
        functions.invoke("Logged", {})
        functions.invoke("Logged", {})

    lines = [record.getMessage() for record in caplog.records]
    cold_starts = [line for line in lines if "cold start" in line]
    assert len(cold_starts) == 1
    assert "cold start Logged (environment 1" in cold_starts[0] and "init" in cold_starts[0]
    # As Lambda's REPORT lines: one per invocation, each with its own request id.
    report = re.compile(r"REPORT Logged RequestId: ([0-9a-f-]{36}) Duration: \d+\.\d\d ms")
    reports = [matched[1] for line in lines if (matched := report.fullmatch(line))]
    assert len(reports) == 2 and reports[0] != reports[1], lines


def test_idle_environments_are_shut_down(tmp_path: Path) -> None:
    functions = LocalFunctions(tmp_path, [write(tmp_path, "Idle")], idle_timeout_s=0.2)
    functions.configure({"Idle": {}})
    try:
        functions.invoke("Idle", {})
        _wait_for(lambda: functions.environment_count("Idle") == 0, timeout_s=10)
    finally:
        functions.unload()


def test_setup_hooks_run_in_each_environment_before_the_handler(tmp_path: Path) -> None:
    # Any importable `module:function` will do: faulthandler's switch is visible from the handler.
    code = "import faulthandler\ndef lambda_handler(event, context):\n    return faulthandler.is_enabled()\n"
    functions = LocalFunctions(tmp_path, [write(tmp_path, "Hooked", code)], setup=["faulthandler:enable"])
    functions.configure({"Hooked": {}})
    try:
        assert functions.invoke("Hooked", {}) is True
    finally:
        functions.unload()


def test_functions_are_found_by_name_or_arn(pool: Any, tmp_path: Path) -> None:
    functions = pool(write(tmp_path, "Step"))

    for name in ("Step", function_arn("Step"), function_arn("Step", "live"), "123456789012:function:Step"):
        assert functions.resolve(name) == "Step"
    with pytest.raises(UnknownFunction):
        functions.resolve("Missing")


def _wait_for(condition: Any, timeout_s: float = 30) -> None:
    import time  # noqa: PLC0415

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def test_an_image_function_whose_environment_is_missing_fails_naming_what_creates_it(tmp_path: Path) -> None:
    # The crew step's environment lives in the project; this root has none.
    spec = write(tmp_path, "crew")
    image = ImageSpec(docker_context=".", dockerfile="crew/Dockerfile")
    functions = LocalFunctions(tmp_path, [replace(spec, logical_id="CrewStepFunction", image=image)])
    functions.configure({})
    try:
        with pytest.raises(FunctionError) as raised:
            functions.invoke("CrewStepFunction", {})
    finally:
        functions.unload()

    assert raised.value.error_type == "Runtime.InvalidEntrypoint"
    assert (
        f"no interpreter at {tmp_path / '.venv-crewai' / 'bin' / 'python'}"
        in raised.value.payload["errorMessage"]
    )
    assert "make crew-venv" in raised.value.payload["errorMessage"]
    assert functions.environment_count("CrewStepFunction") == 0
