"""The runs API over HTTP against the local runtime, whose moto runs the real run state machine.

A scripted executor registered for the workflow framework plays the workflow: it succeeds at
once, waits for input and succeeds with the answer, or works slowly through many steps.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from auralink.agents.runs.control import WORKFLOW_FRAMEWORK
from auralink.llm.metrics import CallRecord, record
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from tests.support.runs import SCRIPTED_WORKFLOWS, create_run, create_workflow, read_run

FINAL = {"succeeded", "failed", "cancelled", "waiting_for_input"}


# The run step's environments play workflows with the scripted executor (see the module's docstring).
ENVIRONMENT_SETUP = SCRIPTED_WORKFLOWS


@pytest.fixture
def api(local_runtime: LocalRuntime) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_runtime.url, timeout=30) as client:
        yield client


class Caller:
    """One user of the API, with their token."""

    def __init__(self, api: httpx.Client, user_id: str) -> None:
        self.api = api
        self.user_id = user_id
        self.headers = {"Authorization": f"Bearer {mint_dev_token(user_id)}"}

    def execute(self, workflow_id: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        return self.api.post(
            f"/api/v1/workflows/{workflow_id}/execute", json=body, headers={**self.headers, **headers}
        )

    def get(self, run_id: str) -> httpx.Response:
        return self.api.get(f"/api/v1/runs/{run_id}", headers=self.headers)

    def list(self, **params: Any) -> httpx.Response:
        return self.api.get("/api/v1/runs", params=params, headers=self.headers)

    def resume(self, run_id: str, body: Any) -> httpx.Response:
        return self.api.post(f"/api/v1/runs/{run_id}/resume", json=body, headers=self.headers)

    def cancel(self, run_id: str) -> httpx.Response:
        return self.api.post(f"/api/v1/runs/{run_id}/cancel", headers=self.headers)

    def wait(
        self, run_id: str, until: Callable[[dict[str, Any]], bool], timeout_s: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            response = self.get(run_id)
            assert response.status_code == 200, response.text
            view: dict[str, Any] = response.json()
            if until(view):
                return view
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not get there in {timeout_s} s: {view}")

    def settle(self, run_id: str) -> dict[str, Any]:
        return self.wait(run_id, lambda view: view["status"] in FINAL)


@pytest.fixture
def caller(api: httpx.Client, make_user_id: Callable[[str], str]) -> Callable[[str], Caller]:
    return lambda label: Caller(api, make_user_id(label))


def executions_of(runtime: LocalRuntime, run_id: str) -> list[str]:
    client = runtime.step_functions()
    listed = client.list_executions(stateMachineArn=runtime.state_machine_arns["RunStateMachine"])
    return sorted(item["name"] for item in listed["executions"] if item["name"].startswith(run_id))


# ------------------------------------------------------------------------------------ execute


def test_an_executed_workflow_runs_to_its_output(caller: Callable[[str], Caller]) -> None:
    alice = caller("alice")
    workflow_id = create_workflow(alice.user_id)

    response = alice.execute(workflow_id, {"input": {"name": "Ada"}, "model": "openai/gpt-5.4"})

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert "idempotent-replayed" not in response.headers
    view = alice.settle(accepted["run_id"])
    assert view["status"] == "succeeded"
    assert view["output"] == {"name": "Ada"}
    assert view["workflow_id"] == workflow_id
    assert view["framework"] == WORKFLOW_FRAMEWORK
    assert view["progress"] == {"steps_done": 1, "current_node": "a"}
    assert view["error"] is None
    assert view["started_at"] is not None and view["finished_at"] >= view["started_at"]
    stored = read_run(alice.user_id, accepted["run_id"])
    assert stored["options"] == {"model": "openai/gpt-5.4"}
    assert stored["executions"] == 1
    assert stored["execution_arn"].endswith(f":{accepted['run_id']}-1")


def test_the_same_idempotency_key_returns_the_same_run_started_once(
    caller: Callable[[str], Caller], local_runtime: LocalRuntime
) -> None:
    alice = caller("alice")
    workflow_id = create_workflow(alice.user_id)
    body = {"input": {"order": 4711}}

    first = alice.execute(workflow_id, body, **{"Idempotency-Key": "order-4711"})
    again = alice.execute(workflow_id, body, **{"Idempotency-Key": "order-4711"})
    other = alice.execute(workflow_id, {"input": {"order": 4712}}, **{"Idempotency-Key": "order-4711"})

    assert first.status_code == again.status_code == 202
    run_id = first.json()["run_id"]
    assert again.json()["run_id"] == run_id
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    alice.settle(run_id)
    assert executions_of(local_runtime, run_id) == [f"{run_id}-1"]


def test_idempotency_keys_belong_to_their_user(caller: Callable[[str], Caller]) -> None:
    alice, bob = caller("alice"), caller("bob")
    body = {"input": {}}

    first = alice.execute(create_workflow(alice.user_id), body, **{"Idempotency-Key": "same"})
    second = bob.execute(create_workflow(bob.user_id), body, **{"Idempotency-Key": "same"})

    assert first.status_code == second.status_code == 202
    assert first.json()["run_id"] != second.json()["run_id"]


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        ({"input": [1, 2]}, {}, "body.input"),
        ({"input": {"blob": "x" * 70_000}}, {}, "body.input"),
        ({"input": {}, "model": "not a model id"}, {}, "body.model"),
        ({"input": {}, "extra": 1}, {}, "body.extra"),
        ({"input": {}}, {"Idempotency-Key": "k" * 256}, "header.idempotency-key"),
        ({"input": {}}, {"Idempotency-Key": "tab\tinside"}, "header.idempotency-key"),
    ],
)
def test_a_malformed_execute_request_is_refused_naming_the_field(
    caller: Callable[[str], Caller], body: dict[str, Any], headers: dict[str, str], field: str
) -> None:
    alice = caller("alice")

    response = alice.execute(create_workflow(alice.user_id), body, **headers)

    assert response.status_code == 422, response.text
    assert field in [detail["field"] for detail in response.json()["error"]["details"]]


def test_an_unknown_model_is_refused_naming_the_field(caller: Callable[[str], Caller]) -> None:
    alice = caller("alice")

    response = alice.execute(create_workflow(alice.user_id), {"input": {}, "model": "openai/no-such-model"})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "model_not_found"
    assert error["details"][0]["field"] == "body.model"


def test_an_unknown_or_foreign_workflow_is_not_found(caller: Callable[[str], Caller]) -> None:
    alice, bob = caller("alice"), caller("bob")
    alices_workflow = create_workflow(alice.user_id)

    for workflow_id in (str(uuid.uuid4()), alices_workflow):
        response = bob.execute(workflow_id, {"input": {}})

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "workflow_not_found"
    assert bob.list().json()["runs"] == []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_orchestrator_fails_the_run_and_answers_503(
    caller: Callable[[str], Caller], local_runtime: LocalRuntime
) -> None:
    alice = caller("alice")
    workflow_id = create_workflow(alice.user_id)
    execute = "RunsExecuteWorkflowFunction"
    local_runtime.functions.update_environment(
        execute, {"AWS_ENDPOINT_URL_SFN": f"http://127.0.0.1:{closed_port()}"}
    )
    try:
        response = alice.execute(workflow_id, {"input": {}})
    finally:
        local_runtime.functions.update_environment(execute, {"AWS_ENDPOINT_URL_SFN": None})

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "orchestrator_unavailable"
    view = alice.get(error["details"]["run_id"]).json()
    assert view["status"] == "failed"
    assert view["error"]["code"] == "orchestrator_unavailable"
    assert view["finished_at"] is not None


# ------------------------------------------------------------------------------------- resume


def test_a_waiting_run_resumes_with_the_answer_as_its_output(
    caller: Callable[[str], Caller], local_runtime: LocalRuntime
) -> None:
    alice = caller("alice")
    schema = {"type": "object", "required": ["approved"], "properties": {"approved": {"type": "boolean"}}}
    run_id = alice.execute(
        create_workflow(alice.user_id), {"input": {"script": "ask", "input_schema": schema}}
    ).json()["run_id"]
    waiting = alice.settle(run_id)
    assert waiting["status"] == "waiting_for_input"
    assert waiting["progress"]["waiting_for"] == {"node": "ask", "prompt": "Approve?", "input_schema": schema}

    response = alice.resume(run_id, {"input": {"approved": True}})

    assert response.status_code == 202, response.text
    assert response.json()["status"] in {"running", "succeeded"}
    done = alice.wait(run_id, lambda view: view["status"] == "succeeded")
    assert done["output"] == {"approved": True}
    assert [event["type"] for event in done["events"]] == ["node_started", "node_finished"]
    assert executions_of(local_runtime, run_id) == [f"{run_id}-1", f"{run_id}-2"]
    stored = read_run(alice.user_id, run_id)
    assert stored["resume_input"] is None  # consumed by the step
    assert stored["execution_arn"].endswith(f":{run_id}-2")


def test_an_answer_of_null_is_an_answer(caller: Callable[[str], Caller]) -> None:
    alice = caller("alice")
    run_id = alice.execute(create_workflow(alice.user_id), {"input": {"script": "ask"}}).json()["run_id"]
    alice.settle(run_id)

    assert alice.resume(run_id, {"input": None}).status_code == 202

    done = alice.wait(run_id, lambda view: view["status"] == "succeeded")
    assert done["output"] is None


def test_an_answer_that_breaks_the_input_schema_is_refused_with_its_path(
    caller: Callable[[str], Caller],
) -> None:
    alice = caller("alice")
    schema = {"type": "object", "properties": {"amount": {"type": "integer", "maximum": 10}}}
    run_id = alice.execute(
        create_workflow(alice.user_id), {"input": {"script": "ask", "input_schema": schema}}
    ).json()["run_id"]
    alice.settle(run_id)

    response = alice.resume(run_id, {"input": {"amount": "sk-secret-value"}})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"] == [
        {"field": "body.input.amount", "message": "does not satisfy the input schema's 'type' rule"}
    ]
    assert "sk-secret-value" not in response.text
    assert alice.get(run_id).json()["status"] == "waiting_for_input"


def test_an_input_schema_that_refers_elsewhere_is_a_422_not_a_fetch(caller: Callable[[str], Caller]) -> None:
    # Workflows refuse such a schema; one stored before that rule is still never fetched from.
    alice = caller("alice")
    schema = {"$ref": "https://example.com/answer.json"}
    run_id = alice.execute(
        create_workflow(alice.user_id), {"input": {"script": "ask", "input_schema": schema}}
    ).json()["run_id"]
    alice.settle(run_id)

    response = alice.resume(run_id, {"input": {"amount": 1}})

    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_input_schema")
    assert alice.get(run_id).json()["status"] == "waiting_for_input"


def test_an_answer_is_checked_against_a_catastrophic_pattern_in_linear_time(
    caller: Callable[[str], Caller],
) -> None:
    # Python's `re` would need about 2**60000 steps for this pair; RE2 answers at once.
    alice = caller("alice")
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}}
    run_id = alice.execute(
        create_workflow(alice.user_id), {"input": {"script": "ask", "input_schema": schema}}
    ).json()["run_id"]
    alice.settle(run_id)

    response = alice.resume(run_id, {"input": {"code": "a" * 60_000 + "!"}})  # an answer is at most 64 KiB

    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"field": "body.input.code", "message": "does not satisfy the input schema's 'pattern' rule"}
    ]
    assert alice.get(run_id).json()["status"] == "waiting_for_input"


def test_a_run_that_is_not_waiting_cannot_be_resumed(caller: Callable[[str], Caller]) -> None:
    alice = caller("alice")
    run_id = alice.execute(create_workflow(alice.user_id), {"input": {}}).json()["run_id"]
    alice.settle(run_id)

    response = alice.resume(run_id, {"input": "yes"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "run_not_waiting"


def test_a_resume_needs_an_input(caller: Callable[[str], Caller]) -> None:
    alice = caller("alice")
    run_id = alice.execute(create_workflow(alice.user_id), {"input": {"script": "ask"}}).json()["run_id"]
    alice.settle(run_id)

    response = alice.resume(run_id, {})

    assert response.status_code == 422
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == "body"
    assert "input" in detail["message"] and "answer" in detail["message"]


# ------------------------------------------------------------------------------------- cancel


def test_a_queued_run_is_cancelled_at_once(caller: Callable[[str], Caller]) -> None:
    alice = caller("alice")
    run_id = create_run(alice.user_id, framework=WORKFLOW_FRAMEWORK)

    response = alice.cancel(run_id)

    assert response.status_code == 202
    view = response.json()
    assert view["status"] == "cancelled"
    assert view["finished_at"] is not None


def test_a_waiting_run_is_cancelled_at_once(caller: Callable[[str], Caller]) -> None:
    alice = caller("alice")
    run_id = alice.execute(create_workflow(alice.user_id), {"input": {"script": "ask"}}).json()["run_id"]
    alice.settle(run_id)

    response = alice.cancel(run_id)

    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    assert alice.resume(run_id, {"input": 1}).status_code == 409


def test_a_running_run_is_cancelled_at_its_next_step_boundary(caller: Callable[[str], Caller]) -> None:
    alice = caller("alice")
    steps = 200
    run_id = alice.execute(
        create_workflow(alice.user_id), {"input": {"script": "slow", "steps": steps}}
    ).json()["run_id"]
    alice.wait(run_id, lambda view: view["status"] == "running" and view["progress"]["steps_done"] >= 2)

    response = alice.cancel(run_id)

    assert response.status_code == 202
    assert response.json()["status"] in {"running", "cancelled"}
    assert response.json()["cancel_requested"] is True
    done = alice.settle(run_id)
    assert done["status"] == "cancelled"
    assert 2 <= done["progress"]["steps_done"] < steps
    assert alice.cancel(run_id).json()["error"]["code"] == "run_finished"


def test_a_finished_run_cannot_be_cancelled(caller: Callable[[str], Caller]) -> None:
    alice = caller("alice")
    run_id = alice.execute(create_workflow(alice.user_id), {"input": {}}).json()["run_id"]
    alice.settle(run_id)

    response = alice.cancel(run_id)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "run_finished"


# ------------------------------------------------------------------------------- read and list


def test_another_user_can_neither_read_nor_resume_nor_cancel_a_run(caller: Callable[[str], Caller]) -> None:
    alice, bob = caller("alice"), caller("bob")
    run_id = alice.execute(create_workflow(alice.user_id), {"input": {"script": "ask"}}).json()["run_id"]
    alice.settle(run_id)

    answers = [bob.get(run_id), bob.resume(run_id, {"input": 1}), bob.cancel(run_id)]

    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert {answer.json()["error"]["code"] for answer in answers} == {"run_not_found"}
    assert alice.get(run_id).json()["status"] == "waiting_for_input"


def test_an_unknown_run_is_not_found(caller: Callable[[str], Caller]) -> None:
    response = caller("alice").get(str(uuid.uuid4()))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "run_not_found"


def test_usage_sums_the_runs_llm_calls(caller: Callable[[str], Caller]) -> None:
    alice = caller("alice")
    run_id = alice.execute(create_workflow(alice.user_id), {"input": {}}).json()["run_id"]
    alice.settle(run_id)
    for input_tokens, output_tokens, cost in ((100, 20, "0.0012"), (50, 5, "0.0003")):
        record(
            CallRecord(
                user_id=alice.user_id,
                provider="openai",
                model="gpt-5.4",
                latency_ms=120,
                status="success",
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_usd=Decimal(cost),
                run_id=uuid.UUID(run_id),
            )
        )
    # A call of no run counts for none.
    record(
        CallRecord(user_id=alice.user_id, provider="openai", model="gpt-5.4", latency_ms=1, status="success")
    )

    usage = alice.get(run_id).json()["usage"]

    assert usage == {
        "llm_calls": 2,
        "input_tokens": 150,
        "output_tokens": 25,
        "tokens": 175,
        "cost_usd": pytest.approx(0.0015),
    }


def test_runs_are_listed_newest_first_by_status_and_workflow_and_paged(
    caller: Callable[[str], Caller],
) -> None:
    alice = caller("alice")
    first_workflow = create_workflow(alice.user_id, name="first")
    second_workflow = create_workflow(alice.user_id, name="second")
    done = alice.execute(first_workflow, {"input": {}}).json()["run_id"]
    waiting = alice.execute(first_workflow, {"input": {"script": "ask"}}).json()["run_id"]
    other = alice.execute(second_workflow, {"input": {}}).json()["run_id"]
    for run_id in (done, waiting, other):
        alice.settle(run_id)

    everything = alice.list().json()
    by_status = alice.list(status="waiting_for_input").json()
    by_workflow = alice.list(workflow_id=first_workflow).json()
    first_page = alice.list(limit=2).json()
    second_page = alice.list(limit=2, cursor=first_page["next_cursor"]).json()

    assert [run["run_id"] for run in everything["runs"]] == [other, waiting, done]
    assert everything["next_cursor"] is None
    assert [run["run_id"] for run in by_status["runs"]] == [waiting]
    assert [run["run_id"] for run in by_workflow["runs"]] == [waiting, done]
    assert [run["run_id"] for run in first_page["runs"] + second_page["runs"]] == [other, waiting, done]
    assert second_page["next_cursor"] is None
    assert everything["runs"][0]["status"] == "succeeded"
    assert everything["runs"][0]["steps_done"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "sleeping"}, "query.status"),
        ({"limit": 0}, "query.limit"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"workflow_id": "nope"}, "query.workflow_id"),
    ],
)
def test_bad_list_parameters_are_refused_naming_them(
    caller: Callable[[str], Caller], params: dict[str, Any], field: str
) -> None:
    response = caller("alice").list(**params)

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == field
