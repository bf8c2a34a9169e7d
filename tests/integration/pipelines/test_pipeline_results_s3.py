"""Pipeline task results in S3 (moto), as in AWS: a run step in another container finds them there.

Each step runs with the local results folder emptied first, as a new Lambda container would have
it: what a step finds of an earlier one's results comes from the bucket.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from auralink.agents.prefect import results
from auralink.agents.runs import service
from tests.fakes.openai_server import LlmServer, Slow, Text
from tests.integration.pipelines.conftest import (
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

BUCKET = "auralink-test-pipeline-results"
PREFIX = "pipeline-results"
CHAIN = {
    "steps": [
        {"id": "a", "kind": "tool", "tool": "calculator", "arguments": {"expression": "1+1"}},
        {
            "id": "b",
            "kind": "tool",
            "tool": "calculator",
            "depends_on": ["a"],
            "arguments": {"expression": "{steps.a.output.result} * 10"},
        },
    ]
}
CACHED = {
    "steps": [
        {
            "id": "sum",
            "kind": "tool",
            "tool": "calculator",
            "arguments": {"expression": "{parameters.a} + 2"},
            "cache": True,
        }
    ]
}


@pytest.fixture
def s3_results(pipelines_env: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Results in the bucket BUCKET (created by the test when it wants one), a fresh S3 client."""
    pipelines_env.setenv("PIPELINE_RESULTS_BUCKET", BUCKET)
    environment.forget_caches()
    results.reset_clients()
    yield pipelines_env
    results.reset_clients()


@pytest.fixture
def bucket(s3_results: pytest.MonkeyPatch) -> str:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


def objects() -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def in_a_new_container(run_id: str, user: str, results_folder: Path, **options: Any) -> str:
    """One run step with nothing left on the local disk by an earlier one."""
    shutil.rmtree(results_folder, ignore_errors=True)
    return step(run_id, user, **options)


@pytest.fixture
def results_folder(tmp_path: Path) -> Path:
    return tmp_path / "results"  # PIPELINE_RESULTS_PATH of pipelines_env


def test_a_step_in_another_container_gets_the_completed_tasks_back_from_the_bucket(
    api, execute, owner, bucket, results_folder, prefect_server
):
    pipeline_id = create_pipeline(api, owner, CHAIN)
    run_id = started(execute, owner, pipeline_id, {})

    # A step of 40 s keeps 10 s back and leaves less than the default reserve: one task a step.
    first = in_a_new_container(run_id, owner, results_folder, remaining_ms=40_000)

    owner_prefix = f"{PREFIX}/{results.owner_folder(owner)}/"
    [a_result] = objects()
    assert first == "running" and a_result.startswith(owner_prefix + "run-")
    assert not results_folder.exists() or not any(results_folder.iterdir())

    assert in_a_new_container(run_id, owner, results_folder, remaining_ms=40_000) == "succeeded"

    run = get_run(api, owner, run_id)
    assert run["output"] == {"b": {"result": 20}}
    assert [(t["step"], t["state"], t["attempts"]) for t in run["task_runs"]] == [
        ("a", "COMPLETED", 1),
        ("b", "COMPLETED", 1),
    ]
    assert len(tool_calls(owner, run_id)) == 2
    assert len(objects()) == 2 and all(key.startswith(owner_prefix) for key in objects())
    _, task_runs = prefect_view(prefect_server.api_url, run["prefect_flow_run_id"])
    # The second step saw a again, from its object.
    assert sorted(t.state.name for t in task_runs) == ["Cached", "Completed", "Completed"]


def test_a_cached_step_is_reused_across_containers_through_the_bucket_never_across_users(
    api, execute, owner, bucket, results_folder, make_user_id
):
    other = make_user_id("other")
    mine = create_pipeline(api, owner, CACHED)
    theirs = create_pipeline(api, other, CACHED)

    def run_once(user: str, pipeline_id: str) -> tuple[str, list[str]]:
        run_id = started(execute, user, pipeline_id, {"a": 40})
        assert in_a_new_container(run_id, user, results_folder) == "succeeded"
        [task] = get_run(api, user, run_id)["task_runs"]
        assert get_run(api, user, run_id)["output"] == {"sum": {"result": 42}}
        return task["state"], [call.tool for call in tool_calls(user, run_id)]

    assert run_once(owner, mine) == ("COMPLETED", ["calculator"])
    assert run_once(owner, mine) == ("CACHED", [])
    # The same step and inputs of another user: their own result, never the owner's.
    assert run_once(other, theirs) == ("COMPLETED", ["calculator"])
    folders = {key.split("/")[1] for key in objects()}
    assert folders == {results.owner_folder(owner), results.owner_folder(other)}
    # The bucket is where the hit came from: without its objects the step runs again.
    for key in objects():
        boto3.client("s3").delete_object(Bucket=BUCKET, Key=key)
    assert run_once(owner, mine) == ("COMPLETED", ["calculator"])


def _unused_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return int(unused.getsockname()[1])


@pytest.mark.parametrize("failure", ["no bucket", "endpoint down"])
def test_the_results_storage_unavailable_interrupts_the_step_then_fails_the_run(
    api, execute, owner, s3_results, failure
):
    pipeline_id = create_pipeline(api, owner, CHAIN)
    run_id = started(execute, owner, pipeline_id, {})
    port = _unused_port()
    if failure == "endpoint down":
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        s3_results.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
        results.reset_clients()

    with pytest.raises(service.StepInterrupted) as interrupted:
        step(run_id, owner)

    assert str(interrupted.value).startswith("pipeline_results_unavailable: ")
    assert BUCKET not in str(interrupted.value) and str(port) not in str(interrupted.value)
    # Whether a was done already could not be looked up: it was not run.
    assert tool_calls(owner, run_id) == []
    assert retries_spent(run_id, owner, interrupted.value) == "failed"
    run = get_run(api, owner, run_id)
    assert run["error"]["code"] == "pipeline_results_unavailable"
    status, logs = api("RunsListRunLogsFunction", owner, path={"run_id": run_id}, query={"limit": "200"})
    assert status == 200
    for shown in (json.dumps(run), json.dumps(logs)):
        assert BUCKET not in shown and f"127.0.0.1:{port}" not in shown


def test_a_result_that_could_not_be_written_is_done_again_once_the_storage_is_back(
    api, execute, owner, bucket, llm_server: LlmServer, results_folder
):
    llm_server.script.then(Slow(1.5, Text("first")), Text("second"))
    pipeline_id = create_pipeline(api, owner, {"steps": [{"id": "ask", "kind": "llm", "prompt": "Hi"}]})
    run_id = started(execute, owner, pipeline_id, {})
    # The bucket goes while the model answers: the task completes, its result cannot be written.
    gone = threading.Thread(target=_delete_bucket_once_called, args=(llm_server,))
    gone.start()
    try:
        with pytest.raises(service.StepInterrupted) as interrupted:
            in_a_new_container(run_id, owner, results_folder)
    finally:
        gone.join()
    assert str(interrupted.value).startswith("pipeline_results_unavailable: ")
    assert get_run(api, owner, run_id)["status"] == "running"

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    assert run_to_end(run_id, owner) == ["succeeded"]

    run = get_run(api, owner, run_id)
    assert run["output"] == {"ask": "second"}
    assert [(t["step"], t["state"]) for t in run["task_runs"]] == [("ask", "COMPLETED")]
    assert len(llm_server.script.received) == 2 and len(objects()) == 1


def _delete_bucket_once_called(llm_server: LlmServer, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(llm_server.script.received) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    boto3.client("s3").delete_bucket(Bucket=BUCKET)
