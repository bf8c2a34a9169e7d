"""What every team executor does between its turns (an AutoGen turn, a CrewAI task): save the
turn, check the team's run-wide bounds, and close the conversation. Each opens a transaction of
the run's owner, or works in the caller's (`save`, `bound_reached_in`); nothing here knows a
framework."""

from __future__ import annotations

import json
from typing import Any, Literal
from uuid import UUID

from auralink.agents.teams import conversations
from auralink.agents.teams.models import Termination
from auralink.db import Connection, tenant_transaction

Bound = Literal["max_messages", "timeout", "max_cost"]


def save(
    conn: Connection,
    run_id: UUID,
    current: conversations.Conversation,
    *,
    state: dict[str, Any],
    turns: int = 1,
    messages: int,
    elapsed_ms: int,
    ending: dict[str, Any] | None = None,
) -> conversations.Conversation:
    """The conversation after a turn that added ``turns`` and ``messages``, saved with ``state``
    and how the turn ended the step (``ending``, if it did); the answer it started with is used."""
    saved = conversations.Conversation(
        task=current.task,
        context=current.context,
        state=state,
        turns=current.turns + turns,
        message_count=current.message_count + messages,
        active_ms=current.active_ms + elapsed_ms,
        turn_ending=ending,
    )
    conversations.save_turn(
        conn,
        run_id,
        state=state,
        turns=saved.turns,
        message_count=saved.message_count,
        active_ms=saved.active_ms,
        ending=ending,
        answered=current.pending_answer is not None,
    )
    return saved


def bound_reached(
    user_id: str, run_id: UUID, termination: Termination, conversation: conversations.Conversation
) -> Bound | None:
    """`bound_reached_in`, reading the run's cost (when it must) in a transaction of its own."""
    if (bound := _counted_bound(termination, conversation)) is not None:
        return bound
    with tenant_transaction(user_id) as conn:
        return bound_reached_in(conn, run_id, termination, conversation)


def bound_reached_in(
    conn: Connection, run_id: UUID, termination: Termination, conversation: conversations.Conversation
) -> Bound | None:
    """The first of the run-wide bounds reached: the messages counted, the time spent in turns
    (not waiting for a person), the run's model calls as the gateway priced them."""
    if (bound := _counted_bound(termination, conversation)) is not None:
        return bound
    if conversations.run_cost_usd(conn, run_id) >= termination.max_cost_usd:
        return "max_cost"
    return None


def _counted_bound(termination: Termination, conversation: conversations.Conversation) -> Bound | None:
    if conversation.message_count >= termination.max_messages:
        return "max_messages"
    if conversation.active_ms >= termination.timeout_seconds * 1000:
        return "timeout"
    return None


def close(
    user_id: str,
    run_id: UUID,
    *,
    turn: int,
    source: str,
    reason: str,
    message: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """The conversation's end and its stop message, once: a step done again after ending it
    does not end it twice."""
    content = {"reason": reason, "message": message, **(detail or {})}
    with tenant_transaction(user_id) as conn:
        if not conversations.finish(conn, run_id, reason):
            return
        conversations.append_message(
            conn,
            user_id=user_id,
            run_id=run_id,
            turn=turn,
            source=source,
            kind="stop",
            content=content,
            usage=None,
        )


def forget(user_id: str, run_id: UUID) -> None:
    """Drop a finished run's saved state, once its end is recorded (`KeepsRunState`)."""
    with tenant_transaction(user_id) as conn:
        conversations.drop_state(conn, run_id)


def task_text(conversation: conversations.Conversation) -> str:
    """The run's task as the team's first message: with its additional context, as JSON."""
    if not conversation.context:
        return conversation.task
    context = json.dumps(conversation.context, ensure_ascii=False)
    return f"{conversation.task}\n\nAdditional context (JSON):\n{context}"
