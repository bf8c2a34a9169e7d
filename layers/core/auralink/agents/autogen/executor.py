"""The `autogen` executor: one bounded step of a team run, one AutoGen turn at a time.

A step restores the team from the state saved after the last finished turn and runs turns until
the run ends, waits for a person, is cancelled, or has too little time left for another turn.
Each turn's messages are written as they come (a poller sees the conversation grow); when the
turn ends, the team's state and the run-wide counters are saved in one statement. A step that
dies mid-turn leaves that turn's messages past the saved turn count: the next step withdraws
them and does the turn again, so no finished turn runs twice.

The team's bounds are checked here, between turns, over the whole run (AutoGen's own counters
do not survive a reload): `max_messages` (the members' text and handoff messages),
`text_mention`, `timeout_seconds` (time spent in turns, not waiting for a person) and
`max_cost_usd` (the run's model calls as the gateway priced them). A cancel is honoured between
turns: a turn in progress is never cut (AutoGen leaves a tool call that is cancelled hanging).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from autogen_agentchat.base import TaskResult, Team
from autogen_agentchat.messages import BaseChatMessage, HandoffMessage, TextMessage
from autogen_agentchat.teams._group_chat._graph._digraph_group_chat import _DIGRAPH_STOP_MESSAGE
from autogen_core import CancellationToken
from autogen_core.models import CreateResult, LLMMessage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from auralink.agents.autogen import transcript
from auralink.agents.autogen.team import build_team
from auralink.agents.runs import repository as runs
from auralink.agents.runs.models import Progress, Run, RunError, RunStatus, StepOutcome, WaitingFor
from auralink.agents.teams import conversations, turns
from auralink.agents.teams.models import USER, TeamDefinition
from auralink.agents.tools.base import ToolContext
from auralink.agents.tools.names import model_tool_names
from auralink.auth import Identity
from auralink.db import tenant_transaction
from auralink.errors import DomainError
from auralink.llm import gateway
from auralink.llm.factories.autogen import AuraLinkModelClient
from auralink.observability import logger
from auralink.settings import get_settings

FRAMEWORK = "autogen"
# No turn starts with less than this left of the step: a turn is a few model calls and tools.
TURN_RESERVE_S = 120.0
DEADLINE_EXHAUSTED = "deadline_exhausted"
# The person's answer must be text.
ANSWER_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1}
# Who writes the run's stop message.
TEAM_SOURCE = "team"

StopReason = Literal["max_messages", "text_mention", "timeout", "max_cost", "graph_complete"]
_STOP_MESSAGES: dict[str, str] = {
    "max_messages": "The team reached its max_messages",
    "text_mention": "A message mentioned the team's text_mention",
    "timeout": "The team reached its timeout_seconds",
    "max_cost": "The run's model calls reached the team's max_cost_usd",
    "graph_complete": "The graph has no member left to speak",
    "cancelled": "The run was cancelled",
    "error": "The run failed",
}


class AutoGenExecutor:
    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        return asyncio.run(_Step(run, deadline_ms).advance())

    def forget(self, run: Run) -> None:
        turns.forget(run.user_id, run.run_id)


class _RunModelClient(AuraLinkModelClient):
    """The gateway's AutoGen client, keeping the failures AutoGen turns into a RuntimeError."""

    def __init__(self, *args: Any, failures: list[DomainError], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failures = failures

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        try:
            return await super().create(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=extra_create_args,
                cancellation_token=cancellation_token,
            )
        except DomainError as exc:
            self._failures.append(exc)
            raise


@dataclass
class _Turn:
    """What one turn said: the members' messages, a handoff to the person, AutoGen's stop."""

    counted: list[transcript.Entry] = field(default_factory=list)
    asks_user: transcript.Entry | None = None
    thought: str | None = None
    autogen_stop: str | None = None


class _Step:
    def __init__(self, run: Run, deadline_ms: int) -> None:
        self.run = run
        self.user_id = run.user_id
        self.deadline = time.monotonic() + deadline_ms / 1000
        self.soft_deadline = self.deadline - min(TURN_RESERVE_S, deadline_ms / 2000)
        self.failures: list[DomainError] = []
        self.cancel_requested = False
        # The member who spoke last: shown while the run works, and kept when it ends.
        self.speaker = run.progress.current_speaker
        self._clients: dict[str | None, _RunModelClient] = {}

    # ------------------------------------------------------------------ the step

    async def advance(self) -> StepOutcome:
        with tenant_transaction(self.user_id) as conn:
            raw = runs.pinned_definition(conn, self.run.run_id)
            conversation = conversations.get(conn, self.run.run_id)
            withdrawn = conversations.withdraw_unfinished(conn, self.run.run_id, conversation.turns)
            if self.run.has_resume_input:
                # Kept with the conversation until the turn it starts is done.
                waiting = self.run.progress.waiting_for
                pending = {"target": waiting.node if waiting else "", "answer": str(self.run.resume_input)}
                conversations.set_pending_answer(conn, self.run.run_id, pending)
                conversation = dataclasses.replace(conversation, pending_answer=pending)
        if withdrawn:
            logger.info(
                "unfinished turn withdrawn", extra={"run_id": str(self.run.run_id), "messages": withdrawn}
            )
        if raw is None:
            return self._failed(
                conversation, RunError(code="team_definition_missing", message="The run has no team")
            )
        definition = TeamDefinition.model_validate(raw)
        self.conversation = conversation
        if not self.run.has_resume_input and conversation.pending_answer is None and conversation.turn_ending:
            # The last step saved a turn that ended it, and died before the run recorded how.
            return self._ended(conversation.turn_ending)
        self.tool_names = {
            safe: name
            for member in definition.members
            for name, safe in model_tool_names(member.tools).items()
        }
        try:
            team = build_team(
                definition,
                user_id=self.user_id,
                model_client=self._model_client,
                tool_context=self._tool_context,
            )
        except DomainError as exc:
            # The user's default model or a member's tool is gone since the team was saved.
            return self._failed(conversation, RunError(code=exc.code, message=exc.message))
        if conversation.state is not None:
            await team.load_state(conversation.state)
        return await self._turns(definition, team, self._first_task(conversation))

    @staticmethod
    def _first_task(conversation: conversations.Conversation) -> BaseChatMessage | None:
        if conversation.turns == 0:
            return TextMessage(source=USER, content=turns.task_text(conversation))
        if (pending := conversation.pending_answer) is not None:
            return HandoffMessage(source=USER, target=pending["target"], content=pending["answer"])
        return None

    async def _turns(
        self, definition: TeamDefinition, team: Team, task: BaseChatMessage | None
    ) -> StepOutcome:
        while True:
            if (before := self._before_turn(definition)) is not None:
                return before
            started = time.monotonic()
            try:
                turn = await self._turn(team, task)
            except Exception:
                return self._turn_failed()
            task = None
            elapsed_ms = int((time.monotonic() - started) * 1000)
            ending = self._ending(definition, turn)
            self._save_turn(await team.save_state(), turn, elapsed_ms=elapsed_ms, ending=ending)
            if ending is not None:
                return self._ended(ending)

    def _before_turn(self, definition: TeamDefinition) -> StepOutcome | None:
        if (reason := self._bound_reached(definition)) is not None:
            return self._succeeded(reason)
        if self.cancel_requested:
            return self._cancelled()
        if time.monotonic() >= self.soft_deadline:
            return self._still_running()
        return None

    @staticmethod
    def _ending(definition: TeamDefinition, turn: _Turn) -> dict[str, Any] | None:
        """How ``turn`` ends the step, saved with it: a stop, or a question to the person."""
        mention = definition.termination.text_mention
        if mention is not None and any(mention in str(entry.content) for entry in turn.counted):
            return {"stop": "text_mention"}
        if turn.autogen_stop == _DIGRAPH_STOP_MESSAGE:
            return {"stop": "graph_complete"}
        if turn.asks_user is not None:
            question = turn.thought or str(turn.asks_user.content["message"])
            return {"waiting": {"node": turn.asks_user.source, "prompt": question}}
        return None

    def _ended(self, ending: dict[str, Any]) -> StepOutcome:
        if "stop" in ending:
            return self._succeeded(ending["stop"])
        asker, question = ending["waiting"]["node"], ending["waiting"]["prompt"]
        progress = self._progress()
        progress.waiting_for = WaitingFor(node=asker, prompt=question, input_schema=ANSWER_SCHEMA)
        events = [{"type": "waiting_for_input", "node": asker}]
        return StepOutcome(status=RunStatus.WAITING_FOR_INPUT, progress=progress, events=events)

    def _turn_failed(self) -> StepOutcome:
        failure = self.failures[-1] if self.failures else None
        if failure is not None and failure.code == DEADLINE_EXHAUSTED:
            return self._still_running()  # the next step does this turn again
        if failure is None:
            logger.exception("team turn raised", extra={"run_id": str(self.run.run_id)})
            return self._failed(
                self.conversation, RunError(code="team_error", message="A member of the team failed")
            )
        return self._failed(self.conversation, RunError(code=failure.code, message=failure.message))

    async def _turn(self, team: Team, task: BaseChatMessage | None) -> _Turn:
        turn = _Turn()
        number = self.conversation.turns + 1
        async for item in team.run_stream(task=task):
            if isinstance(item, TaskResult):
                turn.autogen_stop = item.stop_reason
                continue
            entry = transcript.entry(item, self.tool_names)
            if entry is None:
                continue
            self._write(entry, number)
            if entry.counted:
                turn.counted.append(entry)
            if entry.kind == "handoff" and entry.source != USER and entry.content["target"] == USER:
                turn.asks_user = entry
            elif entry.kind == "text" and not entry.counted and entry.source != USER:
                turn.thought = str(entry.content)
        return turn

    # ------------------------------------------------------------------ bounds

    def _bound_reached(self, definition: TeamDefinition) -> StopReason | None:
        return turns.bound_reached(self.user_id, self.run.run_id, definition.termination, self.conversation)

    # ------------------------------------------------------------------ writes

    def _write(self, entry: transcript.Entry, turn: int) -> None:
        progress = Progress()
        if entry.source != USER:
            self.speaker = progress.current_speaker = entry.source
        with tenant_transaction(self.user_id) as conn:
            conversations.append_message(
                conn,
                user_id=self.user_id,
                run_id=self.run.run_id,
                turn=turn,
                source=entry.source,
                kind=entry.kind,
                content=entry.content,
                usage=entry.usage,
            )
            if runs.record_progress(conn, self.run.run_id, progress):
                self.cancel_requested = True

    def _save_turn(
        self, state: Mapping[str, Any], turn: _Turn, *, elapsed_ms: int, ending: dict[str, Any] | None
    ) -> None:
        with tenant_transaction(self.user_id) as conn:
            self.conversation = turns.save(
                conn,
                self.run.run_id,
                self.conversation,
                state=dict(state),
                messages=len(turn.counted),
                elapsed_ms=elapsed_ms,
                ending=ending,
            )

    def _close(self, reason: str, detail: dict[str, Any] | None = None) -> None:
        turns.close(
            self.user_id,
            self.run.run_id,
            turn=self.conversation.turns,
            source=TEAM_SOURCE,
            reason=reason,
            message=_STOP_MESSAGES[reason],
            detail=detail,
        )

    # ------------------------------------------------------------------ outcomes

    def _progress(self) -> Progress:
        return Progress(
            steps_done=self.conversation.turns,
            messages=self.conversation.message_count,
            current_speaker=self.speaker,
        )

    def _succeeded(self, reason: StopReason) -> StepOutcome:
        self._close(reason)
        with tenant_transaction(self.user_id) as conn:
            final = conversations.last_member_message(conn, self.run.run_id, exclude=(USER, TEAM_SOURCE))
        output = {"final_message": final, "stop_reason": reason, "messages": self.conversation.message_count}
        return StepOutcome(status=RunStatus.SUCCEEDED, progress=self._progress(), output=output)

    def _cancelled(self) -> StepOutcome:
        self._close("cancelled")
        return StepOutcome(status=RunStatus.CANCELLED, progress=self._progress())

    def _failed(self, conversation: conversations.Conversation, error: RunError) -> StepOutcome:
        self.conversation = conversation
        self._close("error", {"code": error.code})
        return StepOutcome(status=RunStatus.FAILED, progress=self._progress(), error=error)

    def _still_running(self) -> StepOutcome:
        return StepOutcome(status=RunStatus.RUNNING, progress=self._progress())

    # ------------------------------------------------------------------ models and tools

    def _model_client(self, model_id: str | None) -> _RunModelClient:
        if model_id not in self._clients:
            model = gateway.model_for(self.user_id, model_id)
            self._clients[model_id] = _RunModelClient(
                self.user_id,
                model,
                run_id=str(self.run.run_id),
                deadline=self.deadline,
                failures=self.failures,
            )
        return self._clients[model_id]

    def _tool_context(self) -> ToolContext:
        return ToolContext(
            identity=Identity(sub=self.user_id),
            run_id=str(self.run.run_id),
            deadline=self.deadline,
            api_base_url=get_settings().public_api_url,
        )
