"""A team run's step that dies in the middle of a turn (its process killed): the next step
withdraws that turn's messages and does the turn again; no finished turn is run twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3

from tests.fakes.openai_server import Calls, Slow, Text
from tests.integration.agents.autogen.conftest import member, messages, run_to_end, start_team
from tests.support.runs import read_run

ROOT = Path(__file__).resolve().parents[4]

# The step function in a process of its own, with the test's secrets in its own AWS emulation.
_STEP = """
import json, os, sys
import boto3
from moto import mock_aws

from tests.support.environment import point_at_moto

with mock_aws():
    point_at_moto()
    for name, value in json.loads(os.environ["TEST_SECRETS"]).items():
        boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)
    from auralink.agents.autogen.executor import FRAMEWORK, AutoGenExecutor
    from auralink.agents.runs import service
    from auralink.agents.runs.executors import register_executor
    from auralink.agents.runs.models import StepCommand

    register_executor(FRAMEWORK, AutoGenExecutor())
    command = StepCommand.model_validate({"run_id": sys.argv[1], "user_id": sys.argv[2]})
    print(service.advance(command, remaining_ms=600_000).status, flush=True)
"""


def _secrets() -> dict[str, str]:
    client = boto3.client("secretsmanager")
    names = [os.environ[variable] for variable in ("CREDENTIALS_KEY_SECRET_ID", "SERVICE_TOKEN_SECRET_ID")]
    return {name: client.get_secret_value(SecretId=name)["SecretString"] for name in names}


def _wait_for(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_step_redoes_only_the_turn_it_was_in(user, model):
    model.script.then(
        Text("A"),
        Calls([("calculator", {"expression": "6*7"})]),
        Slow(60, Text("never")),
        Calls([("calculator", {"expression": "6*7"})]),
        Text("B"),
        Text("C"),
    )
    run_id = start_team(
        user,
        {
            "collaboration_mode": "round_robin",
            "members": [member("first"), member("second", tools=["calculator"])],
            "termination": {"max_messages": 3},
        },
    )
    environment = {
        **os.environ,
        "TEST_SECRETS": json.dumps(_secrets()),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "core")]),
    }
    step = subprocess.Popen(
        [sys.executable, "-c", _STEP, run_id, user], env=environment, cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        # Turn 1 is done and saved; turn 2 has written its tool call and result, and waits for
        # its model.
        _wait_for(lambda: len(model.script.received) == 3)
        _wait_for(lambda: any(m["type"] == "tool_result" for m in messages(user, run_id)))
    finally:
        step.send_signal(signal.SIGKILL)
        step.wait(timeout=10)
    assert step.returncode == -signal.SIGKILL
    assert read_run(user, run_id)["status"] == "running"
    seen_before = [m["seq"] for m in messages(user, run_id)]

    assert run_to_end(run_id, user) == ["succeeded"]

    said = messages(user, run_id)
    assert [(m["source"], m["type"]) for m in said] == [
        ("user", "text"),
        ("first", "text"),
        ("second", "tool_call"),
        ("second", "tool_result"),
        ("second", "text"),
        ("first", "text"),
        ("team", "stop"),
    ]
    assert [m["content"] for m in said if m["type"] == "text"] == ["Plan a picnic", "A", "B", "C"]
    # The withdrawn turn's numbers are not given again: a poller never sees a number twice.
    assert seen_before == [1, 2, 3, 4]
    assert [m["seq"] for m in said] == [1, 2, 5, 6, 7, 8, 9]
    # The first turn's model call was made once; the second turn's twice (it was redone).
    prompts = [request.body["messages"][-1].get("content") for request in model.script.received]
    assert prompts.count("Plan a picnic") == 1
    assert len(model.script.received) == 6
