"""Pipeline runs on the real Prefect server of the test session.

A run is started over its handler (the execute route records it and starts an execution of the
real run state machine in moto, which runs nothing); its steps are driven the way the state
machine drives them (`runs.service.advance`), in-process (the fixtures: `conftest`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import boto3
import pytest

from auralink.agents.runs import service
from auralink.agents.runs.control import WORKFLOW_FRAMEWORK
from auralink.llm.metrics import CallRecord, record
from tests.fakes.openai_server import Fail, Slow, Text
from tests.integration.pipelines.conftest import (
    KEY,
    Api,
    create_pipeline,
    get_run,
    prefect_view,
    retries_spent,
    run_to_end,
    started,
    step,
    tool_calls,
)
from tests.support import environment
from tests.support.aws_loopback import serving
from tests.support.handlers import ROOT
from tests.support.runs import MINIMAL_DEFINITION, FailingExecutor, ScriptedExecutor, executor_in_place

THREE_STEPS = {
    "steps": [
        {
            "id": "echo",
            "kind": "mcp_tool",
            "connection": "tools",
            "tool": "echo",
            "arguments": {"text": "{parameters.topic}"},
        },
        {
            "id": "double",
            "kind": "map",
            "over": "{parameters.items}",
            "concurrency": 2,
            "step": {"kind": "tool", "tool": "calculator", "arguments": {"expression": "{item} * 2"}},
        },
        {
            "id": "headline",
            "kind": "llm",
            "depends_on": ["echo", "double"],
            "prompt": "Headline for {steps.echo.output}: {steps.double.output}",
        },
    ],
    "output": {
        "echo": "{steps.echo.output}",
        "doubled": "{steps.double.output}",
        "headline": "{steps.headline.output}",
    },
}


def test_a_pipeline_of_an_mcp_tool_a_map_and_a_model_call_runs_on_prefect(
    api, execute, owner, llm_server, prefect_server
):
    llm_server.script.then(Text("Five numbers, doubled", input_tokens=20, output_tokens=5))
    pipeline_id = create_pipeline(api, owner, THREE_STEPS)
    run_id = started(execute, owner, pipeline_id, {"topic": "doubling", "items": [1, 2, 3, 4, 5]})

    assert run_to_end(run_id, owner) == ["succeeded"]

    status, run = api("RunsGetRunFunction", owner, path={"run_id": run_id})
    assert status == 200, run
    assert run["kind"] == "pipeline" and run["pipeline_id"] == pipeline_id and run["framework"] == "prefect"
    # The output's strings are templates: a rendered list is its JSON text.
    assert json.loads(run["output"]["doubled"]) == [{"result": n * 2} for n in [1, 2, 3, 4, 5]]
    assert run["output"]["headline"] == "Five numbers, doubled"
    assert "doubling" in str(run["output"]["echo"])
    tasks = {(t["step"], t.get("map_index")): t for t in run["task_runs"]}
    assert sorted(tasks) == sorted(
        [("echo", None), ("headline", None)] + [("double", index) for index in range(5)]
    )
    assert {t["state"] for t in run["task_runs"]} == {"COMPLETED"}
    assert all(t["attempts"] == 1 and t["started_at"] and t["ended_at"] for t in run["task_runs"])
    assert tasks[("double", 3)]["output"] == {"result": 8}
    # At most two items of the map ran at once.
    items = sorted((tasks[("double", i)] for i in range(5)), key=lambda t: t["started_at"])
    for index, item in enumerate(items[2:], start=2):
        overlapping = [other for other in items[:index] if other["ended_at"] > item["started_at"]]
        assert len(overlapping) < 2
    assert run["usage"]["llm_calls"] == 1 and run["usage"]["input_tokens"] == 20
    # The model was called with the rendered prompt, through the user's key.
    prompt = llm_server.script.received[-1].body["messages"][-1]["content"]
    assert prompt.startswith("Headline for ") and '[{"result":2}' in prompt
    # Prefect's own view agrees.
    flow_run, task_runs = prefect_view(prefect_server.api_url, run["prefect_flow_run_id"])
    assert flow_run.state.type.value == "COMPLETED"
    assert set(flow_run.tags) == {f"auralink-run:{run_id}", f"auralink-pipeline:{pipeline_id}"}
    assert sorted(t.name.rsplit("-", 1)[0] for t in task_runs) == sorted(t["step"] for t in run["task_runs"])
    assert {t.state.type.value for t in task_runs} == {"COMPLETED"}
    assert run["prefect_ui_url"] == (
        prefect_server.api_url.removesuffix("/api") + f"/runs/flow-run/{run['prefect_flow_run_id']}"
    )


def test_parameters_are_checked_against_the_schema_and_another_users_pipeline_is_not_found(
    api, execute, owner, make_user_id
):
    pipeline_id = create_pipeline(
        api,
        owner,
        {"steps": [{"id": "t", "kind": "tool", "tool": "calculator", "arguments": {"expression": "6*7"}}]},
        parameters_schema={"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
    )

    status, body, _ = execute(owner, pipeline_id, {"n": "seven"})
    assert status == 422
    assert [d["field"] for d in body["error"]["details"]] == ["body.parameters.n"]
    status, body, _ = execute(make_user_id("other"), pipeline_id, {"n": 7})
    assert (status, body["error"]["code"]) == (404, "pipeline_not_found")
    status, body, _ = execute(owner, pipeline_id, {"n": 7})
    assert status == 202
    status, page = api("ListPipelineRunsFunction", owner, path={"pipeline_id": pipeline_id})
    assert status == 200 and [r["run_id"] for r in page["runs"]] == [body["run_id"]]


def test_a_step_that_fails_twice_succeeds_on_its_third_attempt(api, execute, owner, llm_server):
    llm_server.script.then(Fail(400, "bad request"), Fail(400, "bad request"), Text("third time"))
    pipeline_id = create_pipeline(
        api, owner, {"steps": [{"id": "ask", "kind": "llm", "prompt": "Hello", "retries": 2}]}
    )
    run_id = started(execute, owner, pipeline_id, {})

    assert run_to_end(run_id, owner) == ["succeeded"]

    run = get_run(api, owner, run_id)
    assert run["output"] == {"ask": "third time"}
    [task] = run["task_runs"]
    assert (task["state"], task["attempts"], task["output"]) == ("COMPLETED", 3, "third time")
    assert len(llm_server.script.received) == 3


def test_a_step_out_of_retries_fails_the_run_with_its_code(api, execute, owner, llm_server):
    llm_server.script.then(Fail(400, "bad request"), Fail(400, "bad request"))
    pipeline_id = create_pipeline(
        api, owner, {"steps": [{"id": "ask", "kind": "llm", "prompt": "Hello", "retries": 1}]}
    )
    run_id = started(execute, owner, pipeline_id, {})

    assert run_to_end(run_id, owner) == ["failed"]

    run = get_run(api, owner, run_id)
    assert run["error"]["code"].startswith("llm_") and run["error"]["message"].startswith("step ask: ")
    [task] = run["task_runs"]
    assert (task["state"], task["attempts"]) == ("FAILED", 2)
    assert KEY not in json.dumps(run)


def test_a_cached_step_run_again_with_the_same_parameters_is_cached_and_not_called(api, execute, owner):
    pipeline_id = create_pipeline(
        api,
        owner,
        {
            "steps": [
                {
                    "id": "sum",
                    "kind": "tool",
                    "tool": "mcp:tools/echo",
                    "arguments": {"text": "{parameters.a}"},
                    "cache": True,
                },
                {"id": "plain", "kind": "tool", "tool": "calculator", "arguments": {"expression": "1+1"}},
            ]
        },
    )
    first = started(execute, owner, pipeline_id, {"a": 40})
    assert run_to_end(first, owner) == ["succeeded"]
    second = started(execute, owner, pipeline_id, {"a": 40})
    assert run_to_end(second, owner) == ["succeeded"]
    third = started(execute, owner, pipeline_id, {"a": 41})
    assert run_to_end(third, owner) == ["succeeded"]

    states = {
        run_id: {t["step"]: t["state"] for t in get_run(api, owner, run_id)["task_runs"]}
        for run_id in (first, second, third)
    }
    assert states[first] == {"sum": "COMPLETED", "plain": "COMPLETED"}
    assert states[second] == {"sum": "CACHED", "plain": "COMPLETED"}
    assert states[third] == {"sum": "COMPLETED", "plain": "COMPLETED"}
    assert [call.tool for call in tool_calls(owner, second)] == ["calculator"]
    assert get_run(api, owner, second)["output"] == get_run(api, owner, first)["output"]


def test_a_false_condition_skips_its_dependents_and_theirs(api, execute, owner):
    pipeline_id = create_pipeline(
        api,
        owner,
        {
            "steps": [
                {"id": "wanted", "kind": "condition", "expression": "parameters.go == true"},
                {
                    "id": "a",
                    "kind": "tool",
                    "tool": "calculator",
                    "depends_on": ["wanted"],
                    "arguments": {"expression": "1"},
                },
                {
                    "id": "b",
                    "kind": "tool",
                    "tool": "calculator",
                    "depends_on": ["a"],
                    "arguments": {"expression": "2"},
                },
                {"id": "c", "kind": "tool", "tool": "calculator", "arguments": {"expression": "3"}},
            ]
        },
    )
    run_id = started(execute, owner, pipeline_id, {"go": False})

    assert run_to_end(run_id, owner) == ["succeeded"]

    run = get_run(api, owner, run_id)
    states = {t["step"]: t["state"] for t in run["task_runs"]}
    assert states == {"wanted": "COMPLETED", "a": "SKIPPED", "b": "SKIPPED", "c": "COMPLETED"}
    assert run["output"] == {"b": None, "c": {"result": 3}}
    assert [call.tool for call in tool_calls(owner, run_id)] == ["calculator"]


def test_a_pipeline_longer_than_a_step_goes_on_in_the_same_flow_run_without_redoing_tasks(
    api, execute, owner, prefect_server
):
    pipeline_id = create_pipeline(
        api,
        owner,
        {
            "steps": [
                {"id": "a", "kind": "tool", "tool": "calculator", "arguments": {"expression": "1+1"}},
                {
                    "id": "b",
                    "kind": "tool",
                    "tool": "calculator",
                    "depends_on": ["a"],
                    "arguments": {"expression": "{steps.a.output.result} * 10"},
                },
                {
                    "id": "c",
                    "kind": "tool",
                    "tool": "calculator",
                    "depends_on": ["b"],
                    "arguments": {"expression": "{steps.b.output.result} + 1"},
                },
            ]
        },
    )
    run_id = started(execute, owner, pipeline_id, {})

    # A step of 40 s keeps 10 s back and leaves less than the default reserve: one task a step.
    statuses = [step(run_id, owner, remaining_ms=40_000) for _ in range(3)]

    assert statuses == ["running", "running", "succeeded"]
    run = get_run(api, owner, run_id)
    assert run["output"] == {"c": {"result": 21}}
    assert [(t["step"], t["state"], t["attempts"]) for t in run["task_runs"]] == [
        ("a", "COMPLETED", 1),
        ("b", "COMPLETED", 1),
        ("c", "COMPLETED", 1),
    ]
    assert len(tool_calls(owner, run_id)) == 3
    flow_run, task_runs = prefect_view(prefect_server.api_url, run["prefect_flow_run_id"])
    assert flow_run.state.type.value == "COMPLETED" and flow_run.run_count == 3
    # Prefect saw the earlier tasks again at each step, from their persisted results.
    assert sorted(t.state.name for t in task_runs) == [
        "Cached",
        "Cached",
        "Cached",
        "Completed",
        "Completed",
        "Completed",
    ]


# The run step in a process of its own, with the test's secrets in its own AWS emulation.
_STEP = """
import json, os, sys
import boto3
from moto import mock_aws

from tests.support.environment import point_at_moto

with mock_aws():
    point_at_moto()
    for name, value in json.loads(os.environ["TEST_SECRETS"]).items():
        boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)
    from auralink.agents.prefect.executor import FRAMEWORK, PrefectExecutor
    from auralink.agents.runs import service
    from auralink.agents.runs.executors import register_executor
    from auralink.agents.runs.models import StepCommand

    register_executor(FRAMEWORK, PrefectExecutor())
    command = StepCommand.model_validate({"run_id": sys.argv[1], "user_id": sys.argv[2]})
    print(service.advance(command, remaining_ms=600_000).status, flush=True)
"""


def _secrets() -> dict[str, str]:
    client = boto3.client("secretsmanager")
    variables = ("CREDENTIALS_KEY_SECRET_ID", "SERVICE_TOKEN_SECRET_ID")
    names = [os.environ[variable] for variable in variables if variable in os.environ]
    return {name: client.get_secret_value(SecretId=name)["SecretString"] for name in names}


def _wait_for(predicate: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_killed_step_is_done_again_without_running_a_completed_task_twice(
    api, execute, owner, llm_server, prefect_server
):
    llm_server.script.then(Slow(60, Text("never")), Text("A headline"))
    pipeline_id = create_pipeline(
        api,
        owner,
        {
            "steps": [
                {"id": "a", "kind": "tool", "tool": "calculator", "arguments": {"expression": "6*7"}},
                {
                    "id": "b",
                    "kind": "llm",
                    "depends_on": ["a"],
                    "prompt": "Headline for {steps.a.output.result}",
                },
            ]
        },
    )
    run_id = started(execute, owner, pipeline_id, {})
    environment_of_step = {
        **os.environ,
        "TEST_SECRETS": json.dumps(_secrets()),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "core")]),
    }
    killed = subprocess.Popen(
        [sys.executable, "-c", _STEP, run_id, owner],
        env=environment_of_step,
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        # Killed while the model call of b is under way, a done.
        _wait_for(lambda: len(llm_server.script.received) == 1)
        states = {t["step"]: t["state"] for t in get_run(api, owner, run_id)["task_runs"]}
        assert states == {"a": "COMPLETED", "b": "RUNNING"}
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)

    assert run_to_end(run_id, owner) == ["succeeded"]

    run = get_run(api, owner, run_id)
    assert run["output"] == {"b": "A headline"}
    assert [(t["step"], t["state"], t["attempts"]) for t in run["task_runs"]] == [
        ("a", "COMPLETED", 1),
        ("b", "COMPLETED", 1),
    ]
    assert len(tool_calls(owner, run_id)) == 1
    assert len(llm_server.script.received) == 2
    flow_run, _ = prefect_view(prefect_server.api_url, run["prefect_flow_run_id"])
    assert flow_run.state.type.value == "COMPLETED" and flow_run.run_count == 2


def runs_of_workflow(api: Api, user: str, workflow_id: str) -> list[dict[str, Any]]:
    status, page = api("RunsListRunsFunction", user, query={"workflow_id": workflow_id})
    assert status == 200, page
    return list(page["runs"])


def with_workflow_step(api: Api, user: str) -> tuple[str, str]:
    status, workflow = api(
        "CreateWorkflowFunction", user, body={"name": "greeter", "definition": MINIMAL_DEFINITION}
    )
    assert status == 201, workflow
    pipeline_id = create_pipeline(
        api,
        user,
        {
            "steps": [
                {"id": "a", "kind": "tool", "tool": "calculator", "arguments": {"expression": "6*7"}},
                {
                    "id": "greet",
                    "kind": "workflow",
                    "depends_on": ["a"],
                    "workflow_id": workflow["workflow_id"],
                    "input": {"name": "number {steps.a.output.result}"},
                },
            ]
        },
    )
    return pipeline_id, str(workflow["workflow_id"])


def test_a_workflow_step_waits_across_steps_for_its_child_run_and_gives_its_output(
    api, execute, owner, prefect_server
):
    pipeline_id, workflow_id = with_workflow_step(api, owner)
    run_id = started(execute, owner, pipeline_id, {})

    with executor_in_place(WORKFLOW_FRAMEWORK, ScriptedExecutor()):
        assert step(run_id, owner) == "running"
        # The child has not moved: looked at, not started again.
        assert step(run_id, owner) == "running"
        assert step(run_id, owner) == "running"
        [child] = runs_of_workflow(api, owner, workflow_id)
        assert child["status"] == "queued"
        record(
            CallRecord(
                user_id=owner,
                provider="openai",
                model="gpt-5.4-mini",
                latency_ms=5,
                status="success",
                input_tokens=30,
                output_tokens=4,
                run_id=UUID(child["run_id"]),
            )
        )
        assert step(child["run_id"], owner) == "succeeded"
        assert run_to_end(run_id, owner) == ["succeeded"]

    run = get_run(api, owner, run_id)
    assert run["output"] == {"greet": {"name": "number 42"}}
    assert [t["state"] for t in run["task_runs"]] == ["COMPLETED", "COMPLETED"]
    assert len(runs_of_workflow(api, owner, workflow_id)) == 1
    assert len(tool_calls(owner, run_id)) == 1
    # The child's model calls count in the pipeline run's usage.
    assert (run["usage"]["llm_calls"], run["usage"]["input_tokens"]) == (1, 30)
    # In Prefect, the step's attempt that started the child, then the one that took its output:
    # the looks in between made no task runs.
    _, task_runs = prefect_view(prefect_server.api_url, run["prefect_flow_run_id"])
    assert sorted(t.state.type.value for t in task_runs if t.name.startswith("greet-")) == [
        "COMPLETED",
        "FAILED",
    ]


def test_a_failed_child_run_fails_the_step(api, execute, owner):
    pipeline_id, workflow_id = with_workflow_step(api, owner)
    run_id = started(execute, owner, pipeline_id, {})

    with executor_in_place(WORKFLOW_FRAMEWORK, FailingExecutor()):
        assert step(run_id, owner) == "running"
        [child] = runs_of_workflow(api, owner, workflow_id)
        assert step(child["run_id"], owner) == "failed"
        assert run_to_end(run_id, owner) == ["failed"]

    run = get_run(api, owner, run_id)
    assert run["error"]["code"] == "model_error"
    assert [t["state"] for t in run["task_runs"]] == ["COMPLETED", "FAILED"]


def test_a_cancel_stops_the_run_between_tasks_and_cancels_the_flow_run(
    api, execute, owner, llm_server, prefect_server
):
    llm_server.script.then(Slow(2, Text("slow answer")))
    pipeline_id = create_pipeline(
        api,
        owner,
        {
            "steps": [
                {"id": "ask", "kind": "llm", "prompt": "Hello"},
                {
                    "id": "after",
                    "kind": "tool",
                    "tool": "calculator",
                    "depends_on": ["ask"],
                    "arguments": {"expression": "1"},
                },
            ]
        },
    )
    run_id = started(execute, owner, pipeline_id, {})
    cancel = threading.Timer(1.0, lambda: api("RunsCancelRunFunction", owner, path={"run_id": run_id}))
    cancel.start()
    try:
        assert step(run_id, owner) == "cancelled"
    finally:
        cancel.join()

    run = get_run(api, owner, run_id)
    assert [(t["step"], t["state"]) for t in run["task_runs"]] == [("ask", "COMPLETED")]
    assert tool_calls(owner, run_id) == []
    flow_run, _ = prefect_view(prefect_server.api_url, run["prefect_flow_run_id"])
    assert flow_run.state.type.value == "CANCELLED"


def test_prefect_unreachable_interrupts_the_step_then_fails_the_run_with_prefect_unavailable(
    api, execute, owner, pipelines_env
):
    pipeline_id = create_pipeline(
        api,
        owner,
        {"steps": [{"id": "t", "kind": "tool", "tool": "calculator", "arguments": {"expression": "1"}}]},
    )
    run_id = started(execute, owner, pipeline_id, {})
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    pipelines_env.setenv("PREFECT_API_URL", f"http://127.0.0.1:{port}/api")
    environment.forget_caches()

    with pytest.raises(service.StepInterrupted) as interrupted:
        step(run_id, owner)

    assert str(interrupted.value).startswith("prefect_unavailable: ")
    assert str(port) not in str(interrupted.value)
    assert retries_spent(run_id, owner, interrupted.value) == "failed"
    run = get_run(api, owner, run_id)
    assert run["error"]["code"] == "prefect_unavailable"
    assert str(port) not in json.dumps(run)


@pytest.mark.parametrize("first", [500, 503], ids=["failed", "busy, then failed"])
def test_a_prefect_api_that_fails_interrupts_the_step_and_its_log_line_says_the_status(
    api, execute, owner, pipelines_env, caplog, first
):
    pipeline_id = create_pipeline(
        api,
        owner,
        {"steps": [{"id": "t", "kind": "tool", "tool": "calculator", "arguments": {"expression": "1"}}]},
    )
    run_id = started(execute, owner, pipeline_id, {})

    with serving() as prefect:  # answers 500 to every request not scripted
        prefect.answer(first, {"detail": "scripted"})
        pipelines_env.setenv("PREFECT_API_URL", f"{prefect.url}/api")
        environment.forget_caches()
        with pytest.raises(service.StepInterrupted) as interrupted:
            step(run_id, owner)

    assert str(interrupted.value).startswith("prefect_unavailable: ")
    logged = [record for record in caplog.records if record.getMessage() == "prefect api unavailable"]
    assert [(record.error_type, record.status) for record in logged] == [("PrefectHTTPStatusError", 500)]
    # A busy API (503) is asked once more; a failed one (500) is not.
    first_request = prefect.received[0][:2]
    assert [request[:2] for request in prefect.received] == [first_request] * (2 if first == 503 else 1)


def test_a_runs_logs_are_prefects_and_another_users_run_is_not_found(api, execute, owner, make_user_id):
    pipeline_id = create_pipeline(
        api,
        owner,
        {"steps": [{"id": "t", "kind": "tool", "tool": "calculator", "arguments": {"expression": "6*7"}}]},
    )
    run_id = started(execute, owner, pipeline_id, {})
    assert run_to_end(run_id, owner) == ["succeeded"]

    status, page = api("RunsListRunLogsFunction", owner, path={"run_id": run_id})

    assert status == 200, page
    messages = [log["message"] for log in page["logs"]]
    assert any(message.startswith("Finished in state Completed") for message in messages)
    assert {log["level"] for log in page["logs"]} <= {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    assert [log["timestamp"] for log in page["logs"]] == sorted(log["timestamp"] for log in page["logs"])
    status, first = api("RunsListRunLogsFunction", owner, path={"run_id": run_id}, query={"limit": "1"})
    assert status == 200 and len(first["logs"]) == 1 and first["next_offset"] == 1
    status, body = api("RunsListRunLogsFunction", make_user_id("other"), path={"run_id": run_id})
    assert (status, body["error"]["code"]) == (404, "run_not_found")
    status, body = api("RunsGetRunFunction", make_user_id("other"), path={"run_id": run_id})
    assert (status, body["error"]["code"]) == (404, "run_not_found")


def test_a_deleted_pipeline_keeps_its_runs_history(api, execute, owner):
    pipeline_id = create_pipeline(
        api,
        owner,
        {"steps": [{"id": "t", "kind": "tool", "tool": "calculator", "arguments": {"expression": "6*7"}}]},
    )
    run_id = started(execute, owner, pipeline_id, {})
    assert run_to_end(run_id, owner) == ["succeeded"]

    status, _ = api("DeletePipelineFunction", owner, path={"pipeline_id": pipeline_id})
    assert status == 204

    run = get_run(api, owner, run_id)
    assert run["kind"] == "pipeline" and "pipeline_id" not in run
    assert [(t["step"], t["state"]) for t in run["task_runs"]] == [("t", "COMPLETED")]
    assert run["output"] == {"t": {"result": 42}}
