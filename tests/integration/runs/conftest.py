"""Runs started, left unstarted and swept, against the local runtime and moto's Step Functions.

The modules here name `tests.support.runs:script_workflow_runs` in their `ENVIRONMENT_SETUP`: the
scripted executor plays every workflow from its run's input (tests/support/runs.py says how).
`start_environment` is the one place where they change what the functions that start runs see.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from tests.support.runs import SCRIPTED_WORKFLOWS

SETTLED = {"succeeded", "failed", "cancelled", "waiting_for_input"}


@pytest.fixture(scope="module")
def scripted_runtime(local_runtime: LocalRuntime) -> LocalRuntime:
    """The module's runtime, whose run step plays workflows with the scripted executor."""
    assert tuple(local_runtime.environment_setup) == SCRIPTED_WORKFLOWS, (
        "name SCRIPTED_WORKFLOWS in ENVIRONMENT_SETUP"
    )
    return local_runtime


@pytest.fixture
def start_environment(local_runtime: LocalRuntime) -> Iterator[Callable[..., Any]]:
    """``with start_environment(NAME=value, ...):`` the functions that start runs see these
    variables (a configuration update: their new environments take it)."""
    functions = local_runtime.functions
    starters = [name for name in functions.specs if "RUN_STATE_MACHINE_ARN" in functions.variables(name)]

    @contextmanager
    def override(**variables: str) -> Iterator[None]:
        saved = {name: functions.variables(name) for name in starters}
        for name in starters:
            functions.update_environment(name, variables)
        try:
            yield
        finally:
            for name in starters:
                functions.update_environment(name, {key: saved[name].get(key) for key in variables})

    yield override


class RunsClient:
    """One user of the runs API, over HTTP."""

    def __init__(self, base_url: str, user_id: str) -> None:
        self.user_id = user_id
        self.http = httpx.Client(
            base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {mint_dev_token(user_id)}"}
        )

    def execute(self, workflow_id: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {} if key is None else {"Idempotency-Key": key}
        return self.http.post(f"/api/v1/workflows/{workflow_id}/execute", json=body, headers=headers)

    def resume(self, run_id: str, body: Any) -> httpx.Response:
        return self.http.post(f"/api/v1/runs/{run_id}/resume", json=body)

    def get(self, run_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/v1/runs/{run_id}")
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    def settle(self, run_id: str, timeout_s: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            view = self.get(run_id)
            if view["status"] in SETTLED:
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} did not settle in {timeout_s} s: {view}")
            time.sleep(0.05)


@pytest.fixture
def runs_client(
    scripted_runtime: LocalRuntime, make_user_id: Callable[[str], str]
) -> Iterator[Callable[[str], RunsClient]]:
    clients: list[RunsClient] = []

    def make(label: str) -> RunsClient:
        clients.append(RunsClient(scripted_runtime.url, make_user_id(label)))
        return clients[-1]

    yield make
    for client in clients:
        client.http.close()


@pytest.fixture
def step_functions(local_runtime: LocalRuntime) -> Any:
    """moto's Step Functions, as the local runtime serves it."""
    return local_runtime.step_functions()


@pytest.fixture
def run_machine(local_runtime: LocalRuntime) -> str:
    return local_runtime.state_machine_arns["RunStateMachine"]


@pytest.fixture
def executions_of(step_functions: Any, run_machine: str) -> Callable[[str], list[dict[str, Any]]]:
    """The executions of the run state machine that belong to a run, by name."""

    def of(run_id: str) -> list[dict[str, Any]]:
        listed = step_functions.list_executions(stateMachineArn=run_machine, maxResults=1000)["executions"]
        return sorted(
            (item for item in listed if item["name"].startswith(f"{run_id}-")), key=lambda item: item["name"]
        )

    return of
