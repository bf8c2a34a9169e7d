"""The `agent` node: a model that calls tools until it answers, within a bounded number of turns.

The loop is the node's own, so a node that runs out of the step's time starts over in the next
step (its model calls are then recorded twice, as they were made twice).
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolCall, ToolMessage

from auralink.agents.langgraph.context import NodeFailed, RunContext
from auralink.agents.tools import catalog
from auralink.agents.tools.names import model_tool_names
from auralink.agents.workflows import templates
from auralink.agents.workflows.definition import AgentNode
from auralink.auth import Identity
from auralink.llm.factories.langchain import chat_model
from auralink.settings import get_settings


def run_agent(node: AgentNode, ctx: RunContext, values: dict[str, Any]) -> str:
    max_chars = get_settings().max_rendered_template_chars
    try:
        instructions = templates.render(node.instructions, values, max_chars=max_chars)
        task = (
            templates.render(node.prompt, values, max_chars=max_chars)
            if node.prompt
            else json.dumps(values["input"])
        )
    except templates.TemplateError as exc:
        raise NodeFailed(exc.code, f"Node {node.id}: {exc}") from None
    descriptions = catalog.describe(Identity(sub=ctx.user_id), node.tools)
    names = model_tool_names([tool.name for tool in descriptions])
    specs = [
        {
            "type": "function",
            "function": {
                "name": names[tool.name],
                "description": tool.description,
                "parameters": tool.input_schema or {"type": "object", "properties": {}},
            },
        }
        for tool in descriptions
    ]
    ours = {safe: name for name, safe in names.items()}
    model = chat_model(
        ctx.user_id, ctx.model_for(node.model), run_id=ctx.run_id, deadline=ctx.deadline
    ).bind_tools(specs)
    messages: list[BaseMessage] = [SystemMessage(instructions), HumanMessage(task)]
    for _ in range(node.max_iterations):
        ctx.ensure_time()
        reply = model.invoke(messages)
        assert isinstance(reply, AIMessage)
        messages.append(reply)
        if not reply.tool_calls:
            return reply.text
        for call in reply.tool_calls:
            messages.append(_call_tool(ctx, node, ours, call))
    raise NodeFailed(
        "agent_turn_limit", f"Node {node.id}: the agent did not answer within {node.max_iterations} turns"
    )


def _call_tool(ctx: RunContext, node: AgentNode, ours: dict[str, str], call: ToolCall) -> ToolMessage:
    name, arguments, call_id = call["name"], call["args"], call["id"] or call["name"]
    tool = ours.get(name)
    if tool is None:
        # The model invented a tool: say so, as a tool result it can correct itself from.
        return ToolMessage(f"Error: there is no tool named {name!r}", tool_call_id=call_id, status="error")
    ctx.ensure_time()
    output = catalog.call(ctx.tool_context(), tool, arguments)
    ctx.on_tool_call(node.id, tool, output)
    if output.is_error:
        return ToolMessage(
            f"Error ({output.error_code}): {output.text}", tool_call_id=call_id, status="error"
        )
    return ToolMessage(output.text, tool_call_id=call_id)
