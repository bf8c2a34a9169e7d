"""The `crewai` executor: one bounded step of a crew's run, one task at a time.

A step restores the crew from the outputs of the tasks done so far (saved in the run's
conversation after each task) and does the next tasks until the crew is done, a task waits for a
person's review, the run is cancelled, a bound is reached, or too little of the step is left for
another task. Messages are written as they come: each task's assignment (a `handoff` from the
crew to the member), each tool call and result, a manager's delegations, and each task's output
(`text`). A step that dies mid-task leaves that task's messages past the saved turn count: the next
step withdraws them and does the task again, so no finished task runs twice.

A task with `human_input` is reviewed by a person, not by CrewAI's `input()`: the run waits with
the task's output as its prompt. An empty answer accepts the output; any other answer is feedback,
and the task is done again with it and reviewed again, as CrewAI's own review loop does.

The bounds are the team's `termination`, checked between tasks over the whole run:
`max_messages` (the tasks' outputs), `timeout_seconds` (time spent in tasks, not in waiting) and
`max_cost_usd` (the run's model calls as the gateway priced them). A cancel is honoured between
tasks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from crewai.events import crewai_event_bus
from crewai.tasks.task_output import TaskOutput

from auralink import run_tokens
from auralink.agents.crewai.api import RunApi
from auralink.agents.crewai.crew import CrewBuilder, inputs_of
from auralink.agents.crewai.failures import run_error
from auralink.agents.crewai.plan import MANAGER, CrewPlan
from auralink.agents.runs import repository as runs
from auralink.agents.runs.models import Progress, Run, RunError, RunStatus, StepOutcome, WaitingFor
from auralink.agents.teams import conversations, turns
from auralink.agents.teams.models import USER, Task
from auralink.db import tenant_transaction
from auralink.observability import logger
from auralink.settings import get_settings

FRAMEWORK = "crewai"
# No task starts with less than this left of the step: a task is several model and tool calls.
TASK_RESERVE_S = 120.0
# Who writes the crew's own messages: task assignments and the run's end.
CREW_SOURCE = "crew"
MANAGER_SOURCE = "manager"
# A person's review of a task's output: empty accepts it, anything else is feedback.
ANSWER_SCHEMA: dict[str, Any] = {"type": "string", "maxLength": 20_000}

StopReason = Literal["completed", "max_messages", "timeout", "max_cost"]
_STOP_MESSAGES: dict[str, str] = {
    "completed": "The crew finished its tasks",
    "max_messages": "The crew reached its max_messages",
    "timeout": "The crew reached its timeout_seconds",
    "max_cost": "The run's model calls reached the crew's max_cost_usd",
    "cancelled": "The run was cancelled",
    "error": "The run failed",
}


class CrewAIExecutor:
    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        return _Step(run, deadline_ms).advance()

    def forget(self, run: Run) -> None:
        turns.forget(run.user_id, run.run_id)


@dataclass(frozen=True)
class _State:
    """The outputs of the tasks done, in order; ``review``: the last one waits for a person."""

    outputs: tuple[TaskOutput, ...] = ()
    review: bool = False

    @classmethod
    def load(cls, saved: dict[str, Any] | None) -> _State:
        if not saved:
            return cls()
        outputs = tuple(TaskOutput.model_validate(output) for output in saved.get("outputs", []))
        return cls(outputs=outputs, review=bool(saved.get("review")))

    def dump(self) -> dict[str, Any]:
        return {"outputs": [output.model_dump(mode="json") for output in self.outputs], "review": self.review}


class _Step:
    def __init__(self, run: Run, deadline_ms: int) -> None:
        self.run = run
        self.user_id = run.user_id
        self.deadline = time.monotonic() + deadline_ms / 1000
        self.soft_deadline = self.deadline - min(TASK_RESERVE_S, deadline_ms / 2000)
        self.cancel_requested = False
        self.speaker = run.progress.current_speaker

    # ------------------------------------------------------------------ the step

    def advance(self) -> StepOutcome:
        with tenant_transaction(self.user_id) as conn:
            raw = runs.pinned_definition(conn, self.run.run_id)
            conversation = conversations.get(conn, self.run.run_id)
            withdrawn = conversations.withdraw_unfinished(conn, self.run.run_id, conversation.turns)
            if self.run.has_resume_input:
                # Kept with the conversation until the task it starts is saved (`turns.save`).
                waiting = self.run.progress.waiting_for
                pending = {
                    "target": waiting.node if waiting else "",
                    "answer": str(self.run.resume_input or ""),
                }
                conversations.set_pending_answer(conn, self.run.run_id, pending)
                conversation = replace(conversation, pending_answer=pending)
        if withdrawn:
            logger.info(
                "unfinished task withdrawn", extra={"run_id": str(self.run.run_id), "messages": withdrawn}
            )
        self.conversation = conversation
        if raw is None:
            return self._failed(RunError(code="team_definition_missing", message="The run has no team"))
        self.plan = CrewPlan.model_validate(raw)
        self.tasks = self.plan.tasks()
        self.state = _State.load(conversation.state)
        ttl_s = int(max(self.deadline - time.monotonic(), 1))
        api = RunApi(
            get_settings().public_api_url or "",
            run_tokens.mint(self.user_id, self.run.run_id, ttl_s=ttl_s),
            deadline=self.deadline,
        )
        self.builder = CrewBuilder(
            self.plan,
            api,
            inputs_of(conversation.task, conversation.context),
            on_tool_call=self._tool_called,
            on_tool_result=self._tool_answered,
            on_delegation=self._delegated,
        )
        try:
            return self._tasks()
        finally:
            # CrewAI's event handlers run on threads of their own: none may outlive the step.
            crewai_event_bus.flush(timeout=5.0)
            api.close()

    def _tasks(self) -> StepOutcome:
        feedback = self._review_answer()
        if isinstance(feedback, StepOutcome):
            return feedback
        while True:
            index = len(self.state.outputs) - 1 if feedback is not None else len(self.state.outputs)
            task = self.tasks[index] if index < len(self.tasks) else None
            turn = self.conversation.turns + 1
            # The bounds are read, and the task assigned, in one transaction; the crew is built
            # after it, only for a task that runs.
            with tenant_transaction(self.user_id) as conn:
                stop = self._stop_before_task(conn, done=task is None)
                if stop is None and task is not None:
                    self._assign(conn, task, self.builder.description(index, feedback), turn)
            if stop is not None:
                return stop()
            assert task is not None  # else the crew is done: a stop
            started = time.monotonic()
            try:
                crew, current = self.builder.crew(index, list(self.state.outputs[:index]), feedback)
                crew.kickoff()
            except Exception as exc:  # CrewAI raises whatever its models, agents and clients raised
                return self._task_failed(exc)
            output: TaskOutput | None = current.output
            if output is None:  # CrewAI sets it when the task ends; a task that ends has one
                return self._task_failed(RuntimeError("the task ended without an output"))
            self._save_task(index, task, output, turn, elapsed_ms=int((time.monotonic() - started) * 1000))
            feedback = None
            if task.human_input:
                return self._waiting(task, output)

    def _review_answer(self) -> tuple[str, str] | StepOutcome | None:
        """What a person answered to a task under review: None to go on (accepted, or no
        review), (the output, the feedback) to do that task again, or the wait for a review
        again when there is no answer left: a step used it, saved the task done again, and died
        before the run recorded that it waits."""
        if not self.state.review:
            return None
        pending = self.conversation.pending_answer
        if pending is None:
            index = len(self.state.outputs) - 1
            return self._waiting(self.tasks[index], self.state.outputs[index])
        answer = str(pending.get("answer") or "").strip()
        if answer:
            with tenant_transaction(self.user_id) as conn:
                self._append(conn, USER, "text", answer, turn=self.conversation.turns + 1)
            return (self.state.outputs[-1].raw, answer)
        self.state = replace(self.state, review=False)
        with tenant_transaction(self.user_id) as conn:
            self.conversation = turns.save(
                conn,
                self.run.run_id,
                self.conversation,
                state=self.state.dump(),
                turns=0,
                messages=0,
                elapsed_ms=0,
            )
        return None

    def _assign(self, conn: Any, task: Task, description: str, turn: int) -> None:
        if self.conversation.turns == 0 and not self.state.outputs:
            self._append(conn, USER, "text", turns.task_text(self.conversation), turn=turn)
        assignee = task.agent or MANAGER_SOURCE
        content = {"target": assignee, "message": f"{task.name}: {description}"}
        self._append(conn, CREW_SOURCE, "handoff", content, turn=turn, task=task.name, speaker=assignee)

    def _save_task(self, index: int, task: Task, output: TaskOutput, turn: int, *, elapsed_ms: int) -> None:
        """The task's output written and the turn saved in one transaction: a step that dies
        after it does not do the task again."""
        self.state = _State(outputs=(*self.state.outputs[:index], output), review=task.human_input)
        assignee = task.agent or MANAGER_SOURCE
        with tenant_transaction(self.user_id) as conn:
            self._append(conn, assignee, "text", output.raw, turn=turn, task=task.name, speaker=assignee)
            self.conversation = turns.save(
                conn,
                self.run.run_id,
                self.conversation,
                state=self.state.dump(),
                messages=1,
                elapsed_ms=elapsed_ms,
            )

    def _stop_before_task(self, conn: Any, *, done: bool) -> Callable[[], StepOutcome] | None:
        """What ends the step before the next task, if anything: a bound reached, no task left,
        a cancel, too little of the step left. The outcome is made after the transaction (it
        writes its own)."""
        if reason := turns.bound_reached_in(
            conn, self.run.run_id, self.plan.team.termination, self.conversation
        ):
            return lambda: self._succeeded(reason)
        if done:
            return lambda: self._succeeded("completed")
        if self.cancel_requested:
            return self._cancelled
        if time.monotonic() >= self.soft_deadline:
            return self._still_running
        return None

    # ------------------------------------------------------------------ messages

    def _append(
        self,
        conn: Any,
        source: str,
        kind: str,
        content: Any,
        *,
        turn: int | None = None,
        task: str | None = None,
        speaker: str | None = None,
    ) -> None:
        conversations.append_message(
            conn,
            user_id=self.user_id,
            run_id=self.run.run_id,
            turn=self.conversation.turns + 1 if turn is None else turn,
            source=source,
            kind=kind,
            content=content,
            usage=None,
        )
        progress = Progress()
        if speaker is not None:
            self.speaker = progress.current_speaker = speaker
        if task is not None:
            progress.current_task = task
        if runs.record_progress(conn, self.run.run_id, progress):
            self.cancel_requested = True

    def _tool_called(self, member: str, tool: str, arguments: dict[str, Any]) -> str:
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        with tenant_transaction(self.user_id) as conn:
            content = [{"id": call_id, "tool": tool, "arguments": arguments}]
            self._append(conn, member, "tool_call", content, speaker=member)
        return call_id

    def _tool_answered(self, member: str, call_id: str, tool: str, text: str, failed: bool) -> None:
        with tenant_transaction(self.user_id) as conn:
            content = [{"call_id": call_id, "tool": tool, "content": text, "is_error": failed}]
            self._append(conn, member, "tool_result", content)

    def _delegated(self, sender: str, coworker: str | None, message: str) -> None:
        source = MANAGER_SOURCE if sender == MANAGER else sender
        with tenant_transaction(self.user_id) as conn:
            content = {"target": self._member_of_role(coworker), "message": message}
            self._append(conn, source, "handoff", content)

    def _member_of_role(self, role: str | None) -> str:
        wanted = (role or "").strip().lower()
        for member in self.plan.team.members:
            if (member.role or "").strip().lower() == wanted:
                return member.name
        return MANAGER_SOURCE if role else CREW_SOURCE

    # ------------------------------------------------------------------ state and bounds

    def _close(self, reason: str, detail: dict[str, Any] | None = None) -> None:
        turns.close(
            self.user_id,
            self.run.run_id,
            turn=self.conversation.turns,
            source=CREW_SOURCE,
            reason=reason,
            message=_STOP_MESSAGES[reason],
            detail=detail,
        )

    # ------------------------------------------------------------------ outcomes

    def _progress(self, current_task: str | None = None) -> Progress:
        tasks = getattr(self, "tasks", [])
        outputs = getattr(self, "state", _State()).outputs
        return Progress(
            steps_done=self.conversation.turns,
            messages=self.conversation.message_count,
            current_speaker=self.speaker,
            tasks_done=len(outputs),
            tasks_total=len(tasks),
            current_task=current_task,
        )

    def _succeeded(self, reason: StopReason) -> StepOutcome:
        self._close(reason)
        outputs = [
            {"task": task.name, "agent": task.agent or output.agent, "output": output.raw}
            for task, output in zip(self.tasks, self.state.outputs, strict=False)
        ]
        output = {
            "final_output": outputs[-1]["output"] if outputs else None,
            "tasks_output": outputs,
            "stop_reason": reason,
        }
        return StepOutcome(status=RunStatus.SUCCEEDED, progress=self._progress(), output=output)

    def _cancelled(self) -> StepOutcome:
        self._close("cancelled")
        return StepOutcome(status=RunStatus.CANCELLED, progress=self._progress())

    def _failed(self, error: RunError) -> StepOutcome:
        self._close("error", {"code": error.code})
        return StepOutcome(status=RunStatus.FAILED, progress=self._progress(), error=error)

    def _task_failed(self, exc: Exception) -> StepOutcome:
        if time.monotonic() >= self.deadline - 1:
            return self._still_running()  # out of time mid-task: the next step does it again
        error = run_error(exc)
        if error.code == "crew_error":
            logger.exception("crew task raised", extra={"run_id": str(self.run.run_id)})
        return self._failed(error)

    def _still_running(self) -> StepOutcome:
        return StepOutcome(status=RunStatus.RUNNING, progress=self._progress())

    def _waiting(self, task: Task, output: TaskOutput) -> StepOutcome:
        progress = self._progress(current_task=task.name)
        progress.waiting_for = WaitingFor(node=task.name, prompt=output.raw, input_schema=ANSWER_SCHEMA)
        events = [{"type": "waiting_for_input", "node": task.name}]
        return StepOutcome(status=RunStatus.WAITING_FOR_INPUT, progress=progress, events=events)
