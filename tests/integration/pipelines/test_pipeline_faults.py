"""Pipeline runs that meet a slow call or a Prefect API that goes away in the middle of a flow run.

The Prefect API is the session's server behind a TCP proxy on loopback (`TcpProxy`): cutting the
proxy makes the API unreachable to the run step while the server goes on serving other tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker

from auralink.agents.runs import service
from infra.local.prefect_server import LocalPrefectServer
from tests.fakes.openai_server import LlmServer, Slow, Text
from tests.fakes.tcp_proxy import TcpProxy
from tests.integration.pipelines.conftest import (
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

# Far longer than the step's timeout: a timeout that waited for the call would show.
SLEEP_S = 10


def test_a_step_past_its_timeout_is_timed_out_retried_and_fails_the_run_with_step_timeout(
    api, execute, owner, prefect_server
):
    pipeline_id = create_pipeline(
        api,
        owner,
        {
            "steps": [
                {
                    "id": "nap",
                    "kind": "mcp_tool",
                    "connection": "tools",
                    "tool": "sleep",
                    "arguments": {"seconds": SLEEP_S},
                    "timeout_seconds": 2,
                    "retries": 1,
                }
            ]
        },
    )
    run_id = started(execute, owner, pipeline_id, {})

    began = time.monotonic()
    assert run_to_end(run_id, owner) == ["failed"]

    # Each attempt stopped at its timeout, not when the tool answered.
    assert time.monotonic() - began < SLEEP_S
    run = get_run(api, owner, run_id)
    assert run["error"] == {
        "code": "step_timeout",
        "message": "step nap: an attempt took longer than its timeout",
    }
    [task] = run["task_runs"]
    assert (task["state"], task["attempts"], task["error"]) == ("FAILED", 2, run["error"]["message"])
    assert [call.tool for call in tool_calls(owner, run_id)] == ["mcp:tools/sleep"] * 2
    flow_run, [task_run] = prefect_view(prefect_server.api_url, run["prefect_flow_run_id"])
    assert flow_run.state.type.value == "FAILED"
    assert (task_run.state.name, task_run.run_count) == ("TimedOut", 2)


@pytest.fixture
def prefect_proxy(
    pipelines_env: pytest.MonkeyPatch, prefect_server: LocalPrefectServer
) -> Iterator[TcpProxy]:
    """The run step's Prefect API: the session's server, through a proxy the test can cut."""
    upstream = urlsplit(prefect_server.api_url)
    assert upstream.hostname is not None and upstream.port is not None
    with TcpProxy(upstream.hostname, upstream.port) as proxy:
        pipelines_env.setenv("PREFECT_API_URL", f"http://127.0.0.1:{proxy.port}/api")
        environment.forget_caches()
        yield proxy
        # Prefect's log and events workers are one per process, bound to the API they started
        # with: what a step that lost the API left queued goes before the proxy does, and the next
        # test's steps start workers of their own.
        proxy.restore()
        APILogWorker.drain_all(timeout=10)
        EventsWorker.drain_all(timeout=10)


THREE_IN_A_ROW = {
    "steps": [
        {"id": "a", "kind": "tool", "tool": "calculator", "arguments": {"expression": "6*7"}},
        {"id": "b", "kind": "llm", "depends_on": ["a"], "prompt": "Headline for {steps.a.output.result}"},
        {
            "id": "c",
            "kind": "tool",
            "tool": "calculator",
            "depends_on": ["b"],
            "arguments": {"expression": "{steps.a.output.result} + 1"},
        },
    ]
}


def interrupted_after_the_first_task(
    api: Api, execute: Any, owner: str, llm_server: LlmServer, proxy: TcpProxy
) -> tuple[str, service.StepInterrupted]:
    """A run of THREE_IN_A_ROW whose first step lost the Prefect API while b's model call was under
    way (a done); the run and how its step ended."""
    llm_server.script.then(Slow(0.5, Text("A headline")))
    run_id = started(execute, owner, create_pipeline(api, owner, THREE_IN_A_ROW), {})

    def cut_once_b_calls_its_model() -> None:
        deadline = time.monotonic() + 60
        while not llm_server.script.received and time.monotonic() < deadline:
            time.sleep(0.02)
        proxy.cut()

    cutter = threading.Thread(target=cut_once_b_calls_its_model)
    cutter.start()
    began = time.monotonic()
    try:
        with pytest.raises(service.StepInterrupted) as interrupted:
            step(run_id, owner)
    finally:
        cutter.join()
    # Prefect's client would have retried each request for a minute.
    assert time.monotonic() - began < 30
    return run_id, interrupted.value


def test_prefect_lost_mid_flow_interrupts_the_step_and_the_flow_run_goes_on_once_it_is_back(
    api, execute, owner, llm_server, prefect_server, prefect_proxy
):
    run_id, interrupted = interrupted_after_the_first_task(api, execute, owner, llm_server, prefect_proxy)

    assert str(interrupted).startswith("prefect_unavailable: ")
    assert str(prefect_proxy.port) not in str(interrupted)
    run = get_run(api, owner, run_id)
    assert run["status"] == "running"
    assert {t["step"]: t["state"] for t in run["task_runs"]}["a"] == "COMPLETED"
    flow_run_id = run["prefect_flow_run_id"]

    prefect_proxy.restore()
    assert run_to_end(run_id, owner) == ["succeeded"]

    run = get_run(api, owner, run_id)
    assert run["output"] == {"c": {"result": 43}}
    assert run["prefect_flow_run_id"] == flow_run_id
    assert [(t["step"], t["state"], t["attempts"]) for t in run["task_runs"]] == [
        ("a", "COMPLETED", 1),
        ("b", "COMPLETED", 1),
        ("c", "COMPLETED", 1),
    ]
    # Nothing done twice: the tasks that completed came back from their persisted results.
    assert len(tool_calls(owner, run_id)) == 2
    assert len(llm_server.script.received) == 1
    flow_run, task_runs = prefect_view(prefect_server.api_url, flow_run_id)
    assert flow_run.state.type.value == "COMPLETED" and flow_run.run_count == 2
    # a came back from its result in the second step. Its first run's states go to Prefect as
    # events from a background worker: those still on their way when the API went are lost (the
    # run's own record, above, is whole).
    states = sorted(t.state.name for t in task_runs if t.name.startswith("a-"))
    assert states.count("Cached") == 1 and len(states) <= 2 and "Failed" not in states


def test_prefect_lost_mid_flow_and_not_back_fails_the_run_with_prefect_unavailable(
    api, execute, owner, llm_server, prefect_proxy
):
    run_id, _ = interrupted_after_the_first_task(api, execute, owner, llm_server, prefect_proxy)

    with pytest.raises(service.StepInterrupted) as again:
        step(run_id, owner)
    assert retries_spent(run_id, owner, again.value) == "failed"

    run = get_run(api, owner, run_id)
    assert run["error"]["code"] == "prefect_unavailable"
    assert str(prefect_proxy.port) not in json.dumps(run["error"])
    assert {t["step"]: t["state"] for t in run["task_runs"]}["a"] == "COMPLETED"
