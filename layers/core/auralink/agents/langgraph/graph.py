"""A workflow definition compiled to a LangGraph graph over the run's state.

State: the run's `input`, each node's output under `outputs.<node id>`, and a `trace` of the
nodes that finished with their timings. The trace lives in the checkpoint, so a node that
finished is never lost or re-run, even when the step that ran it died before reporting.
"""

from __future__ import annotations

import operator
import time
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from auralink.agents.langgraph.context import RunContext
from auralink.agents.langgraph.nodes import NodeFunction, node_function
from auralink.agents.workflows.definition import END as END_NODE
from auralink.agents.workflows.definition import ConditionNode, Node, WorkflowDefinition


def _merge(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    return {**(left or {}), **(right or {})}


class RunState(TypedDict, total=False):
    input: dict[str, Any]
    outputs: Annotated[dict[str, Any], _merge]
    trace: Annotated[list[dict[str, Any]], operator.add]


def initial_state(run_input: dict[str, Any]) -> RunState:
    return {"input": run_input, "outputs": {}, "trace": []}


def compile_workflow(
    definition: WorkflowDefinition, ctx: RunContext, checkpointer: BaseCheckpointSaver[Any]
) -> CompiledStateGraph[Any, Any, Any, Any]:
    graph = StateGraph(RunState)
    for node in definition.nodes:
        graph.add_node(node.id, _recorded(node, node_function(node, ctx), ctx))
    graph.add_edge(START, definition.entry)
    for node in definition.nodes:
        if isinstance(node, ConditionNode):
            targets = definition.targets(node.id)
            graph.add_conditional_edges(
                node.id, partial(_chosen_route, node.id), {target: _target(target) for target in targets}
            )
        else:
            graph.add_edge(node.id, _target(definition.successor(node.id)))
    return graph.compile(checkpointer=checkpointer)


def _target(node_id: str) -> str:
    return END if node_id == END_NODE else node_id


def _chosen_route(node_id: str, state: RunState) -> str:
    # A condition node's output is the id of the node it chose.
    return str(state["outputs"][node_id])


def _recorded(node: Node, function: NodeFunction, ctx: RunContext) -> Any:
    def run(state: RunState) -> RunState:
        ctx.on_node_start(node.id)
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        output = function(dict(state))
        entry = {
            "node": node.id,
            "kind": node.kind,
            "started_at": started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "duration_ms": round((time.perf_counter() - started) * 1000),
        }
        return {"outputs": {node.id: output}, "trace": [entry]}

    return run
