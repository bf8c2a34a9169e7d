"""The circuit breaker on the session Postgres: transitions, Retry-After, trial slots, containers, races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from auralink.config.models import CircuitBreakerPolicy
from auralink.db import system_transaction
from auralink.errors import ServiceUnavailable
from auralink.mcp import breaker
from auralink.mcp.breaker import Permit, before_call, record_failure, record_success
from tests.support.clock import FakeClock

POLICY = CircuitBreakerPolicy(failure_threshold=3, window_seconds=60, open_seconds=30, half_open_max_calls=1)


class Gateway:
    """Drives the breaker as the gateway does: admit in one transaction, record in another."""

    def __init__(
        self, conn: psycopg.Connection, transaction: Callable, server: str, clock: FakeClock
    ) -> None:
        self.conn, self.transaction, self.server, self.clock = conn, transaction, server, clock

    def admit(self, policy: CircuitBreakerPolicy = POLICY, **options: float) -> Permit:
        with self.transaction(self.conn):
            return before_call(self.conn, self.server, policy, self.clock.now(), **options)

    def refused(self, policy: CircuitBreakerPolicy = POLICY) -> ServiceUnavailable:
        with pytest.raises(ServiceUnavailable) as raised:
            self.admit(policy)
        assert raised.value.code == "circuit_open"
        return raised.value

    def fail(self, permit: Permit, witness: str | None = None) -> None:
        with self.transaction(self.conn):
            record_failure(self.conn, permit, self.clock.now(), witness=witness)

    def succeed(self, permit: Permit) -> None:
        with self.transaction(self.conn):
            record_success(self.conn, permit, self.clock.now())

    def call_and_fail(self, policy: CircuitBreakerPolicy = POLICY) -> None:
        self.fail(self.admit(policy))

    def state(self) -> breaker.BreakerState:
        with self.transaction(self.conn):
            return breaker.state(self.conn, self.server, self.clock.now(), policy=POLICY)


@pytest.fixture
def gateway(open_container: Callable, transaction: Callable, server_name: str, clock: FakeClock) -> Gateway:
    return Gateway(open_container(), transaction, server_name, clock)


def open_circuit(gateway: Gateway) -> None:
    """Threshold failures a second apart: the circuit opens at the last one, at the clock's time."""
    for index in range(POLICY.failure_threshold):
        if index:
            gateway.clock.advance(1)
        gateway.call_and_fail()


def test_a_server_never_seen_is_closed(gateway: Gateway) -> None:
    permit = gateway.admit()
    assert (permit.state, permit.generation, permit.trial_id) == ("closed", 0, None)
    assert gateway.state() == breaker.BreakerState(gateway.server, "closed", 0, None, None, None, 0)


def test_threshold_failures_within_the_window_open_the_circuit(gateway: Gateway, clock: FakeClock) -> None:
    gateway.call_and_fail()
    clock.advance(10)
    gateway.call_and_fail()
    assert gateway.state().state == "closed"
    assert gateway.state().recent_failures == 2
    clock.advance(10)
    gateway.call_and_fail()  # the third failure, 20 s after the first

    state = gateway.state()
    assert state.state == "open"
    assert state.opened_at == clock.now()
    assert state.retry_after_seconds == 30
    clock.advance(5)
    refused = gateway.refused()
    assert refused.retry_after_seconds == 25
    assert refused.details == {"server": gateway.server, "circuit": "open"}
    assert gateway.server in refused.message


def test_failures_spread_wider_than_the_window_keep_it_closed(gateway: Gateway, clock: FakeClock) -> None:
    for _ in range(6):
        gateway.call_and_fail()
        clock.advance(31)  # never three within 60 s

    # The last failure was 31 s ago and the one before 62 s ago.
    assert gateway.state().state == "closed"
    assert gateway.state().recent_failures == 1


def test_successes_while_closed_write_nothing_and_do_not_reset_the_window(
    gateway: Gateway, owner_conn: psycopg.Connection
) -> None:
    gateway.succeed(gateway.admit())
    assert owner_conn.execute(
        "SELECT count(*) AS n FROM mcp_circuit_breakers WHERE server = %s", (gateway.server,)
    ).fetchone() == {"n": 0}

    gateway.call_and_fail()
    gateway.succeed(gateway.admit())
    gateway.call_and_fail()
    gateway.succeed(gateway.admit())
    gateway.call_and_fail()
    assert gateway.state().state == "open"


def test_after_open_seconds_one_trial_is_admitted_and_others_wait(gateway: Gateway, clock: FakeClock) -> None:
    open_circuit(gateway)
    clock.advance(29)
    assert gateway.refused().retry_after_seconds == 1
    clock.advance(1)
    assert gateway.state().state == "half_open"  # due, before anyone asked

    trial = gateway.admit()
    assert trial.state == "half_open"
    assert trial.trial_id is not None
    refused = gateway.refused()
    assert refused.retry_after_seconds == 1
    assert refused.details == {"server": gateway.server, "circuit": "half_open"}
    assert gateway.state().trials_in_flight == 1


def test_a_successful_trial_closes_the_circuit(gateway: Gateway, clock: FakeClock) -> None:
    open_circuit(gateway)
    clock.advance(30)
    trial = gateway.admit()

    gateway.succeed(trial)

    state = gateway.state()
    assert (state.state, state.recent_failures, state.opened_at, state.trials_in_flight) == (
        "closed",
        0,
        None,
        0,
    )
    assert gateway.admit().state == "closed"
    # A fresh history: it takes the full threshold again to open.
    gateway.call_and_fail()
    gateway.call_and_fail()
    assert gateway.state().state == "closed"


def test_a_failed_trial_reopens_the_circuit_for_open_seconds(gateway: Gateway, clock: FakeClock) -> None:
    open_circuit(gateway)
    clock.advance(30)
    trial = gateway.admit()
    clock.advance(2)

    gateway.fail(trial)

    state = gateway.state()
    assert state.state == "open"
    assert state.opened_at == clock.now()
    assert gateway.refused().retry_after_seconds == 30
    clock.advance(30)
    assert gateway.admit().state == "half_open"


def test_several_trial_slots_and_the_first_outcome_decides(gateway: Gateway, clock: FakeClock) -> None:
    policy = POLICY.model_copy(update={"half_open_max_calls": 2})
    open_circuit(gateway)
    clock.advance(30)
    first, second = gateway.admit(policy), gateway.admit(policy)
    assert first.trial_id != second.trial_id
    gateway.refused(policy)

    gateway.succeed(first)
    gateway.fail(second)  # admitted before the circuit closed: old news

    assert gateway.state().state == "closed"
    assert gateway.state().recent_failures == 0


def test_outcomes_of_calls_admitted_before_the_circuit_opened_are_ignored(
    gateway: Gateway, clock: FakeClock
) -> None:
    early = [gateway.admit() for _ in range(5)]
    for permit in early[:3]:
        gateway.fail(permit)
    opened_at = gateway.state().opened_at
    clock.advance(10)

    gateway.fail(early[3])  # a slow call that failed after the circuit opened
    assert gateway.state().opened_at == opened_at

    clock.advance(20)
    trial = gateway.admit()
    gateway.fail(early[4])  # a slower one, finishing during the trial: it does not reopen
    gateway.succeed(early[0])  # nor does a stale success close it
    assert gateway.state().state == "half_open"
    gateway.succeed(trial)
    assert gateway.state().state == "closed"


def test_a_trial_that_never_reports_frees_its_slot_after_its_lease(
    gateway: Gateway, clock: FakeClock
) -> None:
    open_circuit(gateway)
    clock.advance(30)
    gateway.admit(trial_lease_seconds=20)  # its container dies: no outcome ever arrives

    clock.advance(19)
    gateway.refused()
    clock.advance(1)
    replacement = gateway.admit(trial_lease_seconds=20)
    gateway.succeed(replacement)
    assert gateway.state().state == "closed"


def test_two_containers_share_one_circuit(
    open_container: Callable, transaction: Callable, server_name: str, clock: FakeClock
) -> None:
    first = Gateway(open_container(), transaction, server_name, clock)
    second = Gateway(open_container(), transaction, server_name, clock)

    first.call_and_fail()
    second.call_and_fail()
    first.call_and_fail()

    assert second.refused().retry_after_seconds == 30
    clock.advance(30)
    trial = second.admit()
    first.refused()  # the other container's trial holds the only slot
    second.succeed(trial)
    assert first.admit().state == "closed"


def test_concurrent_failures_open_the_circuit_once(
    open_container: Callable,
    transaction: Callable,
    owner_conn: psycopg.Connection,
    server_name: str,
    clock: FakeClock,
) -> None:
    containers = [Gateway(open_container(), transaction, server_name, clock) for _ in range(8)]
    permits = [container.admit() for container in containers]
    barrier = threading.Barrier(len(containers))

    def fail(index: int) -> None:
        barrier.wait(timeout=10)
        containers[index].fail(permits[index])

    with ThreadPoolExecutor(max_workers=len(containers)) as pool:
        list(pool.map(fail, range(len(containers))))

    row = owner_conn.execute(
        "SELECT state, generation FROM mcp_circuit_breakers WHERE server = %s", (server_name,)
    ).fetchone()
    assert row == {"state": "open", "generation": 1}


def test_concurrent_callers_in_half_open_get_exactly_the_trial_slots(
    open_container: Callable, transaction: Callable, server_name: str, clock: FakeClock
) -> None:
    policy = POLICY.model_copy(update={"half_open_max_calls": 2})
    opener = Gateway(open_container(), transaction, server_name, clock)
    open_circuit(opener)
    clock.advance(30)
    containers = [Gateway(open_container(), transaction, server_name, clock) for _ in range(10)]
    barrier = threading.Barrier(len(containers))

    def attempt(index: int) -> str:
        barrier.wait(timeout=10)
        try:
            return containers[index].admit(policy).state
        except ServiceUnavailable as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=len(containers)) as pool:
        outcomes = list(pool.map(attempt, range(len(containers))))

    assert outcomes.count("half_open") == 2
    assert outcomes.count("circuit_open") == 8


def test_the_service_role_runs_the_breaker_through_its_own_transactions(
    service: pytest.MonkeyPatch, server_name: str, clock: FakeClock
) -> None:
    for _ in range(3):
        with system_transaction() as conn:
            permit = before_call(conn, server_name, POLICY, clock.now())
        with system_transaction() as conn:
            record_failure(conn, permit, clock.now())

    with system_transaction() as conn, pytest.raises(ServiceUnavailable) as raised:
        before_call(conn, server_name, POLICY, clock.now())
    assert raised.value.retry_after_seconds == 30
    with system_transaction() as conn:
        assert breaker.state(conn, server_name, clock.now()).state == "open"


def test_opening_is_logged_with_the_server_and_reason(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    open_circuit(gateway)

    opened = [record for record in caplog.records if record.getMessage() == "circuit opened"]
    assert len(opened) == 1
    assert opened[0].levelname == "WARNING"
    assert opened[0].mcp_server == gateway.server  # type: ignore[attr-defined]
    assert opened[0].reason == "3 failures within 60 s"  # type: ignore[attr-defined]


SHARED = CircuitBreakerPolicy(failure_threshold=3, window_seconds=60, open_seconds=30, distinct_users=2)


def test_one_witness_alone_never_opens_a_shared_circuit(gateway: Gateway, clock: FakeClock) -> None:
    for _ in range(10):
        gateway.fail(gateway.admit(SHARED), witness="mallory")
        clock.advance(1)

    assert gateway.state().state == "closed"


def test_a_second_witness_within_the_window_opens_it(gateway: Gateway, clock: FakeClock) -> None:
    for _ in range(3):
        gateway.fail(gateway.admit(SHARED), witness="mallory")
    clock.advance(10)
    gateway.fail(gateway.admit(SHARED), witness="alice")

    assert gateway.state().state == "open"


def test_a_witness_from_before_the_window_does_not_count(gateway: Gateway, clock: FakeClock) -> None:
    gateway.fail(gateway.admit(SHARED), witness="alice")
    clock.advance(61)
    for _ in range(3):
        gateway.fail(gateway.admit(SHARED), witness="mallory")

    assert gateway.state().state == "closed"


def test_a_failure_that_needs_no_witness_counts_alone(gateway: Gateway, clock: FakeClock) -> None:
    for _ in range(3):
        gateway.fail(gateway.admit(SHARED))
        clock.advance(1)

    assert gateway.state().state == "open"


def test_witnesses_are_forgotten_when_the_circuit_opens(
    gateway: Gateway, clock: FakeClock, owner_conn: psycopg.Connection
) -> None:
    for witness in ("alice", "bob", "carol"):
        gateway.fail(gateway.admit(SHARED), witness=witness)
    row = owner_conn.execute(
        "SELECT state, failure_witnesses FROM mcp_circuit_breakers WHERE server = %s", (gateway.server,)
    ).fetchone()

    assert row == {"state": "open", "failure_witnesses": {}}


def test_one_witness_cannot_keep_a_shared_circuit_from_its_trials(gateway: Gateway, clock: FakeClock) -> None:
    for _ in range(3):
        gateway.fail(gateway.admit(SHARED))  # the server was down: the circuit opened
    clock.advance(SHARED.open_seconds)

    with gateway.transaction(gateway.conn):
        trial = before_call(gateway.conn, gateway.server, SHARED, clock.now(), caller="mallory")
    gateway.fail(trial, witness="mallory")  # a slow call of mallory's own making

    assert gateway.state().state == "half_open"
    with pytest.raises(ServiceUnavailable), gateway.transaction(gateway.conn):
        before_call(gateway.conn, gateway.server, SHARED, clock.now(), caller="mallory")
    with gateway.transaction(gateway.conn):
        alice = before_call(gateway.conn, gateway.server, SHARED, clock.now(), caller="alice")
    gateway.succeed(alice)
    assert gateway.state().state == "closed"


def test_trials_failing_for_several_witnesses_open_a_shared_circuit_again(
    gateway: Gateway, clock: FakeClock
) -> None:
    for _ in range(3):
        gateway.fail(gateway.admit(SHARED))
    clock.advance(SHARED.open_seconds)

    for witness in ("alice", "bob"):
        with gateway.transaction(gateway.conn):
            trial = before_call(gateway.conn, gateway.server, SHARED, clock.now(), caller=witness)
        gateway.fail(trial, witness=witness)

    assert gateway.state().state == "open"
