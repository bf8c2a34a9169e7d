"""The `langgraph` executor: one bounded step of a workflow run, resumed from its checkpoint.

A step streams the graph from where the checkpoint left it and stops when the graph ends, when a
`human` node waits, when the run is cancelled, or when too little of the step's time is left to
start another node. Nodes that finished are in the checkpoint before the next one starts, so a
step that dies is simply run again and no finished node runs twice.
"""

from __future__ import annotations

import time
from typing import Any

from langgraph.errors import GraphRecursionError
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from auralink.agents.langgraph import definitions
from auralink.agents.langgraph.checkpointer import checkpointer_for
from auralink.agents.langgraph.context import NodeFailed, OutOfTime, RunContext
from auralink.agents.langgraph.graph import compile_workflow, initial_state
from auralink.agents.langgraph.progress import LiveProgress, finished_event
from auralink.agents.runs import repository as runs
from auralink.agents.runs.models import Progress, Run, RunError, RunStatus, StepOutcome, WaitingFor
from auralink.db import tenant_transaction
from auralink.errors import DomainError
from auralink.settings import get_settings

FRAMEWORK = "langgraph"
# A run that has executed this many nodes is looping (a condition that never lets it out): it
# fails rather than spend the user's model budget forever.
MAX_NODES_PER_RUN = 1_000
# No node starts with less than this left of the step (one model call's timeout and some).
NODE_RESERVE_S = 75.0


class LangGraphExecutor:
    def step(self, run: Run, *, deadline_ms: int) -> StepOutcome:
        try:
            definition = definitions.pinned(run)
        except (NodeFailed, DomainError) as exc:
            return StepOutcome(status=RunStatus.FAILED, error=RunError(code=exc.code, message=exc.message))
        live = LiveProgress(run, definition)
        deadline = time.monotonic() + deadline_ms / 1000
        ctx = RunContext(
            user_id=run.user_id,
            run_id=str(run.run_id),
            model=run.options.get("model"),
            deadline=deadline,
            soft_deadline=deadline - min(NODE_RESERVE_S, deadline_ms / 2000),
            api_base_url=get_settings().public_api_url,
            on_node_start=live.node_started,
            on_tool_call=live.tool_called,
        )
        graph = compile_workflow(definition, ctx, checkpointer_for(run.user_id))
        return _advance(graph, run, ctx, live)

    def forget(self, run: Run) -> None:
        """Drop the run's checkpoints once its end is recorded (not before: a step that dies
        between the two is done again from them, and runs no node again)."""
        checkpointer_for(run.user_id).delete_thread(str(run.run_id))


def _advance(
    graph: CompiledStateGraph[Any, Any, Any, Any], run: Run, ctx: RunContext, live: LiveProgress
) -> StepOutcome:
    config: Any = {"configurable": {"thread_id": str(run.run_id)}}
    snapshot = graph.get_state(config)
    nodes_done = len((snapshot.values or {}).get("trace") or [])
    # LangGraph counts its supersteps per call; ours are nodes, one a superstep.
    config["recursion_limit"] = max(MAX_NODES_PER_RUN - nodes_done, 1)
    payload: Any = None
    if not snapshot.values:
        payload = initial_state(run.input)
    elif snapshot.interrupts and run.has_resume_input:
        payload = Command(resume=run.resume_input)
        live.resuming = snapshot.interrupts[0].value.get("node")
    failure: RunError | None = None
    answering = isinstance(payload, Command)
    try:
        for update in graph.stream(payload, config, stream_mode="updates", durability="sync"):
            if answering:
                # The node that took the answer is in the checkpoint: a retry of this step must
                # not give the answer again, to a question asked after it.
                with tenant_transaction(run.user_id) as conn:
                    runs.answer_used(conn, run.run_id)
                answering = False
            finished = [
                entry for value in update.values() if isinstance(value, dict) for entry in value["trace"]
            ]
            live.nodes_finished(finished)
            if live.cancel_requested or time.monotonic() >= ctx.soft_deadline:
                break
    except OutOfTime:
        pass
    except GraphRecursionError:
        failure = RunError(
            code="node_limit_exceeded",
            message=f"The run executed {MAX_NODES_PER_RUN} nodes without reaching END"
            " (a condition that never lets a loop end?)",
        )
    except (NodeFailed, DomainError) as exc:
        failure = RunError(code=exc.code, message=exc.message)
    return _outcome(graph.get_state(config), live, failure=failure)


def _outcome(snapshot: Any, live: LiveProgress, *, failure: RunError | None) -> StepOutcome:
    values = snapshot.values or {}
    trace: list[dict[str, Any]] = values.get("trace") or []
    # Nodes a step finished but died before showing (they are in the checkpoint all the same).
    events = [finished_event(entry) for entry in trace[live.shown :]]
    progress = Progress(steps_done=len(trace), current_node=snapshot.next[0] if snapshot.next else None)
    if failure is not None:
        return StepOutcome(status=RunStatus.FAILED, progress=progress, events=events, error=failure)
    if live.cancel_requested:
        return StepOutcome(status=RunStatus.CANCELLED, progress=progress, events=events)
    if snapshot.interrupts:
        question = WaitingFor.model_validate(snapshot.interrupts[0].value)
        progress.waiting_for = question
        events.append({"type": "waiting_for_input", "node": question.node})
        return StepOutcome(status=RunStatus.WAITING_FOR_INPUT, progress=progress, events=events)
    if snapshot.next:
        return StepOutcome(status=RunStatus.RUNNING, progress=progress, events=events)
    outputs = values.get("outputs") or {}
    return StepOutcome(
        status=RunStatus.SUCCEEDED,
        progress=progress,
        events=events,
        output={"result": _result(trace, outputs), "outputs": outputs},
    )


def _result(trace: list[dict[str, Any]], outputs: dict[str, Any]) -> Any:
    """The output of the last node that produced one (conditions only choose the way)."""
    for entry in reversed(trace):
        if entry["kind"] != "condition":
            return outputs.get(entry["node"])
    return None
