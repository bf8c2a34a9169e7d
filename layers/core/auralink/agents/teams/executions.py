"""Runs of teams: start one, read a run's messages, list a team's conversations.

A team run is a run like any other (`auralink.agents.runs.control`): the same quotas,
idempotency, Step Functions loop, status, cancel and resume. What is a team's own is recorded
with it: the definition it executes (pinned when it starts: a team edited or deleted later does
not change a conversation under way) and its conversation (task, saved state, messages).
"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from auralink.agents.runs import control, orchestrator
from auralink.agents.runs import repository as runs
from auralink.agents.runs.api_models import MessagePage, RunAccepted, RunMessage
from auralink.agents.teams import conversations, crew_pins, service
from auralink.agents.teams import repository as teams
from auralink.agents.teams.models import (
    ConversationPage,
    ConversationSummary,
    ExecuteTeamRequest,
    TeamDefinition,
)
from auralink.auth import Identity
from auralink.db import Connection, tenant_transaction

MAX_MESSAGES_PAGE = 200
# A replay compares the target, input and options of runs, not their framework.
FRAMEWORK_UNKNOWN = "unknown"


def start_team_run(
    identity: Identity,
    team_id: UUID,
    request: ExecuteTeamRequest,
    idempotency_key: str | None,
    *,
    parent_run_id: UUID | None = None,
) -> tuple[RunAccepted, bool]:
    """Record a run of the team on the task and start it (202); the bool says whether it is new.

    404 for a team that is not the caller's; 422 naming what a team that cannot run lacks. A
    repeated request (the same ``idempotency_key``) gets the first one's run, whatever became of
    the team since."""
    run_input = {
        "task_description": request.task_description,
        "additional_context": request.additional_context,
    }
    if idempotency_key is not None:
        orchestrator.state_machine_arn()
        asked = control.NewRun(framework=FRAMEWORK_UNKNOWN, input=run_input, team_id=team_id)
        if (earlier := control.replayed(identity, asked, idempotency_key)) is not None:
            return earlier, False
    definition = service.runnable_definition(identity.sub, str(team_id))
    new = control.NewRun(
        framework=definition.framework,
        input=run_input,
        team_id=team_id,
        definition=_pinned(identity, definition),
        record=partial(_record_conversation, identity.sub, team_id, request),
        parent_run_id=parent_run_id,
    )
    return control.start_run(identity, new, idempotency_key, exists=_team_exists)


def _pinned(identity: Identity, definition: TeamDefinition) -> dict[str, Any]:
    """What the run executes: the team; a crew's also with its models and tools resolved, since
    its step runs where the registry and the catalog are not imported."""
    if definition.framework == "crewai":
        return crew_pins.pin(identity, definition)
    return definition.model_dump(mode="json", by_alias=True)


def _team_exists(conn: Connection, new: control.NewRun) -> None:
    assert new.team_id is not None
    teams.get_team(conn, new.team_id)  # 404 team_not_found: deleted since it was read


def _record_conversation(
    user_id: str, team_id: UUID, request: ExecuteTeamRequest, conn: Connection, run_id: UUID
) -> None:
    conversations.insert(
        conn,
        user_id=user_id,
        team_id=team_id,
        run_id=run_id,
        task=request.task_description,
        context=request.additional_context,
    )


def run_messages(identity: Identity, run_id: UUID, *, after: int = 0, limit: int = 100) -> MessagePage:
    """The run's messages after ``after``, oldest first (a workflow run has none); 404 for a
    run that is not the caller's."""
    with tenant_transaction(identity.sub) as conn:
        runs.get(conn, run_id)
        rows = conversations.messages_after(conn, run_id, after=after, limit=min(limit, MAX_MESSAGES_PAGE))
    messages = [RunMessage.model_validate(row) for row in rows]
    return MessagePage(messages=messages, next=messages[-1].seq if messages else after)


def team_conversations(
    identity: Identity, team_id: UUID, *, limit: int = 50, cursor: str | None = None
) -> ConversationPage:
    """The team's runs, newest first; 404 for a team that is not the caller's."""
    with tenant_transaction(identity.sub) as conn:
        teams.get_team(conn, team_id)
        rows, next_cursor = conversations.page(conn, team_id, limit=limit, cursor=cursor)
    return ConversationPage(
        conversations=[
            ConversationSummary(
                run_id=row["run_id"],
                task_description=row["task"],
                status=row["status"],
                message_count=row["message_count"],
                stop_reason=row["stop_reason"],
                cost_usd=float(row["cost_usd"]),
                created_at=row["created_at"],
                started_at=row["started_at"],
                finished_at=row["finished_at"],
            )
            for row in rows
        ],
        next_cursor=next_cursor,
    )
