"""A step that dies half-way (its process killed) is run again from the checkpoint: the nodes it
finished are not run twice, the node it was in is run again, and the run ends as if nothing had
happened."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3

from tests.fakes.openai_server import Slow, Text
from tests.integration.agents.langgraph.conftest import run_to_end
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
    from auralink.agents.langgraph.executor import FRAMEWORK, LangGraphExecutor
    from auralink.agents.runs import service
    from auralink.agents.runs.executors import register_executor
    from auralink.agents.runs.models import StepCommand

    register_executor(FRAMEWORK, LangGraphExecutor())
    command = StepCommand.model_validate({"run_id": sys.argv[1], "user_id": sys.argv[2]})
    print(service.advance(command, remaining_ms=600_000).status, flush=True)
"""

THREE_STEPS = {
    "entry": "first",
    "nodes": [
        {"id": "first", "kind": "llm", "prompt": "one"},
        {"id": "second", "kind": "llm", "prompt": "two after {outputs.first}"},
        {"id": "third", "kind": "llm", "prompt": "three after {outputs.second}"},
    ],
    "edges": [
        {"from": "first", "to": "second"},
        {"from": "second", "to": "third"},
        {"from": "third", "to": "END"},
    ],
}


def _secrets() -> dict[str, str]:
    client = boto3.client("secretsmanager")
    names = [os.environ[variable] for variable in ("CREDENTIALS_KEY_SECRET_ID", "SERVICE_TOKEN_SECRET_ID")]
    return {name: client.get_secret_value(SecretId=name)["SecretString"] for name in names}


def _wait_for(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_step_resumes_from_the_checkpoint_and_runs_no_finished_node_twice(user, start, model):
    model.script.then(Text("A"), Slow(60, Text("never")), Text("B"), Text("C"))
    run_id = start(user, THREE_STEPS)
    environment = {
        **os.environ,
        "TEST_SECRETS": json.dumps(_secrets()),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "core")]),
    }
    step = subprocess.Popen(
        [sys.executable, "-c", _STEP, run_id, user], env=environment, cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        # The first node is done and checkpointed; the second is waiting for its model.
        _wait_for(lambda: len(model.script.received) == 2)
    finally:
        step.send_signal(signal.SIGKILL)
        step.wait(timeout=10)
    assert step.returncode == -signal.SIGKILL
    assert read_run(user, run_id)["status"] == "running"

    assert run_to_end(run_id, user) == ["succeeded"]

    prompts = [request.body["messages"][-1]["content"] for request in model.script.received]
    assert prompts == ["one", "two after A", "two after A", "three after B"]
    run = read_run(user, run_id)
    assert run["output"]["result"] == "C"
    finished = [event["node"] for event in run["events"] if event["type"] == "node_finished"]
    assert finished == ["first", "second", "third"]
