"""What each kind of node does, as functions of the run's state that return the node's output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.types import interrupt

from auralink.agents.langgraph.agent import run_agent
from auralink.agents.langgraph.context import NodeFailed, RunContext, template_state
from auralink.agents.tools import catalog
from auralink.agents.workflows import expressions, templates
from auralink.agents.workflows.definition import (
    AgentNode,
    ConditionNode,
    HumanNode,
    LlmNode,
    Node,
    ToolNode,
)
from auralink.llm.factories.langchain import chat_model
from auralink.settings import get_settings

NodeFunction = Callable[[dict[str, Any]], Any]


def node_function(node: Node, ctx: RunContext) -> NodeFunction:
    match node:
        case LlmNode():
            return lambda state: _llm(node, ctx, state)
        case AgentNode():
            return lambda state: run_agent(node, ctx, template_state(state))
        case ToolNode():
            return lambda state: _tool(node, ctx, state)
        case ConditionNode():
            return lambda state: _route(node, state)
        case HumanNode():
            return lambda state: _ask(node, state)
    raise TypeError(f"unknown node kind {node!r}")


def _llm(node: LlmNode, ctx: RunContext, state: dict[str, Any]) -> str:
    values = template_state(state)
    messages: list[BaseMessage] = []
    if node.system:
        messages.append(SystemMessage(_render(node.system, values)))
    messages.append(HumanMessage(_render(node.prompt, values)))
    ctx.ensure_time()
    model = chat_model(
        ctx.user_id,
        ctx.model_for(node.model),
        run_id=ctx.run_id,
        deadline=ctx.deadline,
        temperature=node.temperature,
        max_tokens=node.max_tokens,
    )
    reply = model.invoke(messages)
    return reply.text


def _tool(node: ToolNode, ctx: RunContext, state: dict[str, Any]) -> Any:
    try:
        arguments = templates.render_value(
            node.arguments, template_state(state), max_chars=get_settings().max_rendered_template_chars
        )
    except templates.TemplateError as exc:
        raise NodeFailed(exc.code, f"Node {node.id}: {exc}") from None
    ctx.ensure_time()
    output = catalog.call(ctx.tool_context(), node.tool, arguments)
    ctx.on_tool_call(node.id, node.tool, output)
    if output.is_error:
        raise NodeFailed(
            output.error_code or "tool_error", f"Node {node.id}: tool {node.tool} failed: {output.text}"
        )
    return output.structured if output.structured is not None else output.text


def _route(node: ConditionNode, state: dict[str, Any]) -> str:
    try:
        return expressions.route(node, template_state(state))
    except expressions.ExpressionError as exc:
        raise NodeFailed("expression_error", f"Node {node.id}: {exc}") from None


def _ask(node: HumanNode, state: dict[str, Any]) -> Any:
    question = {
        "node": node.id,
        "prompt": _render(node.prompt, template_state(state)),
        "input_schema": node.input_schema,
    }
    # The first time, this pauses the run; when resumed, the node runs again and gets the answer.
    return interrupt(question)


def _render(template: str, values: dict[str, Any]) -> str:
    try:
        return templates.render(template, values, max_chars=get_settings().max_rendered_template_chars)
    except templates.TemplateError as exc:
        raise NodeFailed(exc.code, str(exc)) from None
