"""Concurrent load on the local runtime: every answer is its own caller's, and nothing is lost.

Each function runs one invocation at a time per environment, up to its concurrency limit, as on
Lambda. A client of a throttled API (429, no Retry-After from a Lambda throttle) retries after a
short random wait, as AWS SDKs do; what is asserted is correctness, not speed.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from auralink.db import tenant_transaction
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token

USERS = 4
CALLS = 100
ME_REQUESTS = 300
RETRY_LIMIT = 200


@dataclass
class Tally:
    """What the clients saw, for the assertions and for the test's report."""

    throttled: int = 0
    connection_errors: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status == 429:
                self.throttled += 1


def send(
    url: str, method: str, path: str, tally: Tally, *, retry_throttled: bool, **kwargs: Any
) -> httpx.Response:
    """One call on a connection of its own, retried while throttled when asked to."""
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(RETRY_LIMIT):
            response = client.request(method, path, **kwargs)
            tally.count(response.status_code)
            if response.status_code != 429 or not retry_throttled:
                return response
            time.sleep(random.uniform(0.05, 0.25))
    raise AssertionError(f"{path} was still throttled after {RETRY_LIMIT} tries")


def headers(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_dev_token(user)}"}


@pytest.fixture(scope="module")
def memory_connections(local_runtime: LocalRuntime) -> dict[str, str]:
    """Four users, each with a connection to the hosted Memory server: {user: connection id}."""
    connections = {}
    with httpx.Client(base_url=local_runtime.url, timeout=60) as api:
        for n in range(USERS):
            user = f"load-{n}-{uuid.uuid4().hex[:8]}"
            connected = api.post("/api/v1/mcp/connect", headers=headers(user), json={"server_type": "memory"})
            assert connected.status_code == 201, connected.text
            connections[user] = connected.json()["connection_id"]
    return connections


def test_concurrent_tool_calls_of_four_users_each_get_their_own_result(
    local_runtime: LocalRuntime, memory_connections: dict[str, str]
) -> None:
    users = list(memory_connections)
    calls = [(users[n % USERS], f"E{n}") for n in range(CALLS)]
    tally = Tally()
    start = threading.Barrier(CALLS)

    def call(user: str, entity: str) -> httpx.Response:
        start.wait()
        entities = [{"name": entity, "entityType": "load", "observations": [f"{entity} of {user}"]}]
        path = f"/api/v1/mcp/connections/{memory_connections[user]}/tools/create_entities/call"
        return send(local_runtime.url, "POST", path, tally, retry_throttled=True,
                    headers=headers(user), json={"arguments": {"entities": entities}})  # fmt: skip

    with ThreadPoolExecutor(max_workers=CALLS) as clients:
        responses = list(clients.map(lambda args: call(*args), calls))

    errors = [response.text for response in responses if response.status_code != 200]
    mixed = [
        (entity, response.text)
        for (user, entity), response in zip(calls, responses, strict=True)
        if response.status_code == 200 and _created(response) != [(entity, f"{entity} of {user}")]
    ]
    graphs = {user: _graph(local_runtime.url, user) for user in users}
    expected = {user: {entity for owner, entity in calls if owner == user} for user in users}
    lost = {user: expected[user] - graphs[user] for user in users}
    foreign = {user: graphs[user] - expected[user] for user in users}
    logged = {user: _call_log(user, memory_connections[user]) for user in users}
    lost_count = sum(map(len, lost.values()))
    print(f"\n{CALLS} tool calls from {USERS} users: {len(errors)} errors, {lost_count} lost,"
          f" {len(mixed)} mixed, {tally.throttled} throttled answers retried")  # fmt: skip

    assert errors == []
    assert mixed == []
    assert lost == {user: set() for user in users}
    assert foreign == {user: set() for user in users}
    assert logged == {user: {"success": CALLS // USERS} for user in users}


def test_hundreds_of_concurrent_requests_are_all_answered(local_runtime: LocalRuntime) -> None:
    tally = Tally()
    start = threading.Barrier(ME_REQUESTS)
    caller = headers(f"crowd-{uuid.uuid4().hex[:8]}")

    def me(_: int) -> int:
        start.wait()
        try:
            return send(
                local_runtime.url, "GET", "/api/v1/me", tally, retry_throttled=False, headers=caller
            ).status_code
        except httpx.TransportError as exc:
            with tally.lock:
                tally.connection_errors.append(type(exc).__name__)
            return 0

    with ThreadPoolExecutor(max_workers=ME_REQUESTS) as clients:
        statuses = list(clients.map(me, range(ME_REQUESTS)))

    print(f"\n{ME_REQUESTS} concurrent GET /api/v1/me: {dict(Counter(statuses))}, "
          f"{len(tally.connection_errors)} connection errors")  # fmt: skip
    assert tally.connection_errors == []
    # Past the function's concurrency limit Lambda throttles; every other request is served.
    assert set(statuses) <= {200, 429}
    assert statuses.count(200) >= 1


def _created(response: httpx.Response) -> list[tuple[str, str]]:
    """The entities the server says it created, with their observation."""
    created = json.loads(response.json()["result"]["content"][0]["text"])
    return [(entity["name"], entity["observations"][0]) for entity in created]


def _graph(url: str, user: str) -> set[str]:
    with httpx.Client(base_url=url, timeout=60) as api:
        graph = api.post("/api/v1/mcp/memory/read_graph", headers=headers(user), json={})
    assert graph.status_code == 200, graph.text
    return {entity["name"] for entity in json.loads(graph.json()["result"]["content"][0]["text"])["entities"]}


def _call_log(user: str, connection_id: str) -> dict[str, int]:
    with tenant_transaction(user) as conn:
        rows = conn.execute(
            "SELECT status, count(*) AS n FROM mcp_operation_logs"
            " WHERE connection_id = %s AND operation = 'call_tool' AND tool = 'create_entities'"
            " GROUP BY status",
            (connection_id,),
        ).fetchall()
    return {row["status"]: row["n"] for row in rows}
