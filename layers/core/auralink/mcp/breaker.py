"""The circuit breaker of each MCP server, shared by every Lambda container through Postgres.

States (`mcp_circuit_breakers`, one row per key, created by its first failure; the key is a
server shared by every user, or one user's own server: the gateway decides):

- closed: calls pass. When ``failure_threshold`` failures fall within ``window_seconds`` (a
  sliding window over the latest failures), the circuit opens. Successes do not reset it.
  A failure may name its witness (a digest of the user who saw it): then the circuit opens
  only once ``distinct_users`` witnesses saw failures within the window, so that one user who
  provokes failures (a slow query on purpose) cannot open a circuit that everyone shares. A
  failure without a witness (a server that cannot be reached at all) is proof enough alone.
- open: calls are refused with ``ServiceUnavailable(code="circuit_open")`` and a
  ``retry_after_seconds`` that ends when the circuit turns half-open, ``open_seconds`` after it
  opened.
- half-open: up to ``half_open_max_calls`` trial calls at a time; others are refused (retry
  after a second: a trial's outcome is due within one call). The first trial to succeed closes
  the circuit; the first to fail opens it again for another ``open_seconds`` — on a shared
  circuit, a failure that needs witnesses does so only once ``distinct_users`` users' trials
  failed, and a user whose trial failed gets no other until the circuit changes. A trial whose
  outcome is never recorded (its container died) frees its slot after its lease.

The gateway calls `before_call` in one short transaction, calls the server outside any
transaction, then records the outcome with `record_success` or `record_failure` in another. The
`Permit` remembers what the call was admitted as: outcomes of calls admitted before the
circuit last changed state are ignored, so a slow call from before an outage cannot reopen or
close the circuit after it. Which failures count is the gateway's choice.

A closed circuit costs one indexed read per call and no write; changes happen under the row's
lock (``SELECT ... FOR UPDATE``), so containers racing on one server see one history.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb

from auralink.config.models import CircuitBreakerPolicy
from auralink.db import Rows, Statement
from auralink.errors import ServiceUnavailable
from auralink.observability import logger

CircuitState = Literal["closed", "open", "half_open"]
CIRCUIT_OPEN = "circuit_open"
# How long a half-open trial holds its slot when its outcome is never recorded. The gateway
# passes its call's deadline instead when it knows it.
DEFAULT_TRIAL_LEASE_SECONDS = 60.0

# The witness of failures that need no other: whoever saw them, everyone would have.
ANYONE = "*"

_SELECT = """
SELECT server, state, generation, failure_times, failure_witnesses, opened_at, half_open_at, trials
  FROM mcp_circuit_breakers WHERE server = %s
"""
_SELECT_FOR_UPDATE = _SELECT + " FOR UPDATE"


@dataclass(frozen=True)
class Permit:
    """Admission of one call: what it was admitted as, for recording its outcome."""

    server: str
    state: Literal["closed", "half_open"]
    generation: int
    policy: CircuitBreakerPolicy
    trial_id: str | None = None


@dataclass(frozen=True)
class BreakerState:
    """The circuit of one server as of ``now`` (for /health and the operators)."""

    server: str
    state: CircuitState
    recent_failures: int
    opened_at: datetime | None
    half_open_at: datetime | None
    retry_after_seconds: int | None
    trials_in_flight: int


def before_call(
    conn: psycopg.Connection[Any],
    server: str,
    policy: CircuitBreakerPolicy,
    now: datetime,
    *,
    trial_lease_seconds: float = DEFAULT_TRIAL_LEASE_SECONDS,
    server_name: str | None = None,
    caller: str | None = None,
    read: Rows | None = None,
) -> Permit:
    """Admit a call to ``server`` or raise ``ServiceUnavailable(code="circuit_open")``.

    ``server_name`` is the server as the caller knows it, for the refusal (``server`` by default).
    ``caller`` is the witness the caller's failures would name: a caller whose trial already
    failed in this half-open phase gets no other trial, so one user cannot hold the trial slot.
    ``read`` is the rows of `state_statement`, when the caller sent it in a batch.
    """
    shown = server_name or server
    row = _read(conn, server, lock=False) if read is None else next(iter(read), None)
    if row is None or row["state"] == "closed":
        return Permit(server, "closed", row["generation"] if row else 0, policy)
    row = _read(conn, server, lock=True)
    if row is None or row["state"] == "closed":  # closed by another container meanwhile
        return Permit(server, "closed", row["generation"] if row else 0, policy)
    if row["state"] == "open" and now < row["half_open_at"]:
        raise _open_error(shown, _seconds_until(row["half_open_at"], now), state="open")
    trials = _live_trials(row["trials"], now)
    if len(trials) >= policy.half_open_max_calls:
        raise _open_error(shown, 1, state="half_open")
    if row["state"] == "half_open" and caller is not None and caller in row["failure_witnesses"]:
        raise _open_error(shown, policy.open_seconds, state="half_open")
    trial_id = uuid.uuid4().hex
    trials[trial_id] = now.timestamp() + trial_lease_seconds
    if row["state"] == "open":
        logger.info("circuit half-open", extra={"mcp_server": server})
    _write(conn, server, state="half_open", trials=Jsonb(trials))
    return Permit(server, "half_open", row["generation"], policy, trial_id)


def state_statement(server: str) -> Statement:
    """The read of the circuit that `before_call` starts with, for a batch (unlocked: a closed
    circuit, the usual case, needs nothing more)."""
    return Statement(_SELECT, (server,))


def learns_from_success(permit: Permit) -> bool:
    """Whether `record_success` has anything to do: successes do not reset a closed circuit's
    failure window, so only a half-open trial's success is news."""
    return permit.state != "closed"


def record_success(conn: psycopg.Connection[Any], permit: Permit, now: datetime) -> None:
    """A call admitted by ``permit`` succeeded: a half-open circuit closes."""
    if not learns_from_success(permit):
        return
    row = _read(conn, permit.server, lock=True)
    if row is None or row["generation"] != permit.generation or row["state"] != "half_open":
        return
    _write(
        conn,
        permit.server,
        state="closed",
        generation=row["generation"] + 1,
        failure_times=[],
        failure_witnesses=Jsonb({}),
        opened_at=None,
        half_open_at=None,
        trials=Jsonb({}),
    )
    logger.info("circuit closed", extra={"mcp_server": permit.server})


def record_failure(
    conn: psycopg.Connection[Any], permit: Permit, now: datetime, *, witness: str | None = None
) -> None:
    """A call admitted by ``permit`` failed in a way that counts: the circuit may open.

    ``witness`` names who saw the failure when one caller could have provoked it; None when the
    failure needs no other witness.
    """
    conn.execute(
        "INSERT INTO mcp_circuit_breakers (server) VALUES (%s) ON CONFLICT (server) DO NOTHING",
        (permit.server,),
    )
    row = _read(conn, permit.server, lock=True)
    if row is None or row["generation"] != permit.generation or row["state"] != permit.state:
        return  # admitted before the circuit last changed: its outcome is old news
    policy = permit.policy
    if permit.state == "half_open":
        _trial_failed(conn, row, permit, now, witness)
        return
    # Sorted again: another container may have recorded a later failure than this one.
    failures = sorted([*_within_window(row["failure_times"], now, policy), now])[-policy.failure_threshold :]
    witnesses = _witnesses(row["failure_witnesses"], witness or ANYONE, now, policy)
    if len(failures) >= policy.failure_threshold and _enough(witnesses, policy):
        reason = f"{len(failures)} failures within {policy.window_seconds} s"
        if ANYONE not in witnesses:
            reason += f", seen by {len(witnesses)} users"
        _open(conn, row, now, policy, reason=reason)
    else:
        _write(conn, permit.server, failure_times=failures, failure_witnesses=Jsonb(witnesses))


def _trial_failed(
    conn: psycopg.Connection[Any], row: DictRow, permit: Permit, now: datetime, witness: str | None
) -> None:
    """A half-open trial failed: the circuit opens again, unless the failure is one its caller
    could have provoked and too few users have seen such failures yet. Then the slot is freed for
    another user's trial, and the witness gets no other (`before_call`)."""
    policy = permit.policy
    if witness is None:
        _open(conn, row, now, policy, reason="trial call failed")
        return
    witnesses = _witnesses(row["failure_witnesses"], witness, now, policy)
    if _enough(witnesses, policy):
        _open(conn, row, now, policy, reason=f"trial calls failed for {len(witnesses)} users")
        return
    trials = {trial: expires for trial, expires in row["trials"].items() if trial != permit.trial_id}
    _write(conn, permit.server, failure_witnesses=Jsonb(witnesses), trials=Jsonb(trials))


def state(
    conn: psycopg.Connection[Any], server: str, now: datetime, *, policy: CircuitBreakerPolicy | None = None
) -> BreakerState:
    """The circuit as of ``now``; with ``policy``, recent failures count only those in its window."""
    row = _read(conn, server, lock=False)
    if row is None:
        return BreakerState(server, "closed", 0, None, None, None, 0)
    current: CircuitState = row["state"]
    retry_after = None
    if current == "open":
        if now >= row["half_open_at"]:
            current = "half_open"
        else:
            retry_after = _seconds_until(row["half_open_at"], now)
    failures = row["failure_times"] if policy is None else _within_window(row["failure_times"], now, policy)
    return BreakerState(
        server=server,
        state=current,
        recent_failures=len(failures),
        opened_at=row["opened_at"],
        half_open_at=row["half_open_at"],
        retry_after_seconds=retry_after,
        trials_in_flight=len(_live_trials(row["trials"], now)) if current == "half_open" else 0,
    )


def _open(
    conn: psycopg.Connection[Any], row: DictRow, now: datetime, policy: CircuitBreakerPolicy, *, reason: str
) -> None:
    _write(
        conn,
        row["server"],
        state="open",
        generation=row["generation"] + 1,
        failure_times=[],
        failure_witnesses=Jsonb({}),
        opened_at=now,
        half_open_at=now + timedelta(seconds=policy.open_seconds),
        trials=Jsonb({}),
    )
    logger.warning(
        "circuit opened",
        extra={"mcp_server": row["server"], "reason": reason, "open_seconds": policy.open_seconds},
    )


def _read(conn: psycopg.Connection[Any], server: str, *, lock: bool) -> DictRow | None:
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(_SELECT_FOR_UPDATE if lock else _SELECT, (server,)).fetchone()


def _write(conn: psycopg.Connection[Any], server: str, **changes: Any) -> None:
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column)) for column in changes
    )
    query = sql.SQL("UPDATE mcp_circuit_breakers SET {}, updated_at = now() WHERE server = %(server)s")
    conn.execute(query.format(assignments), {**changes, "server": server})


def _within_window(times: list[datetime], now: datetime, policy: CircuitBreakerPolicy) -> list[datetime]:
    oldest = now - timedelta(seconds=policy.window_seconds)
    return sorted(moment for moment in times if moment > oldest)


def _witnesses(
    stored: dict[str, float], witness: str, now: datetime, policy: CircuitBreakerPolicy
) -> dict[str, float]:
    """Each witness's latest failure within the window, this one's included; only the
    ``distinct_users`` latest witnesses are kept, which is all that the rule needs to know."""
    oldest = (now - timedelta(seconds=policy.window_seconds)).timestamp()
    recent = {who: moment for who, moment in stored.items() if moment > oldest and who != witness}
    recent[witness] = now.timestamp()
    latest = sorted(recent.items(), key=lambda item: item[1], reverse=True)[: policy.distinct_users]
    return dict(latest)


def _enough(witnesses: dict[str, float], policy: CircuitBreakerPolicy) -> bool:
    return ANYONE in witnesses or len(witnesses) >= policy.distinct_users


def _live_trials(trials: dict[str, float], now: datetime) -> dict[str, float]:
    moment = now.timestamp()
    return {trial: expires for trial, expires in trials.items() if expires > moment}


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _open_error(server: str, retry_after: int, *, state: CircuitState) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"MCP server {server} is failing; calls are suspended for {retry_after} s",
        code=CIRCUIT_OPEN,
        retry_after_seconds=retry_after,
        details={"server": server, "circuit": state},
    )
