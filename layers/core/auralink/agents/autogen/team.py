"""A team definition (the product's own JSON) compiled into AutoGen objects, in code.

Nothing of AutoGen's declarative component format is read: no `provider` string of a user is
ever imported. Every team is built with ``max_turns=1``: the executor runs one turn at a time and
saves the team's state after each, so the run-wide bounds (messages, cost, time) are the
executor's and a step that dies loses at most the turn in progress.

Members are AssistantAgents that call tools up to `MAX_TOOL_ITERATIONS` times in a turn and
answer without a second "reflection" call on the tools' results (the model reads them on its next
call anyway).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, override

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import ChatAgent, Team, TerminationCondition
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, MessageFactory
from autogen_agentchat.teams import DiGraphBuilder, GraphFlow, RoundRobinGroupChat, SelectorGroupChat, Swarm
from autogen_agentchat.teams._group_chat._events import GroupChatTermination
from autogen_agentchat.teams._group_chat._graph._digraph_group_chat import GraphFlowManager
from autogen_core.models import ChatCompletionClient

from auralink.agents.autogen.tools import catalog_tools
from auralink.agents.teams.models import TeamDefinition
from auralink.agents.tools import catalog
from auralink.agents.tools.base import ToolContext
from auralink.auth import Identity

MAX_TOOL_ITERATIONS = 5
# A member's instructions when the team gives none (AutoGen's own default asks for TERMINATE,
# which means nothing unless the team's text_mention says so).
_DEFAULT_SYSTEM = "You are {name}, a member of a team working on a task. {description}"


def build_team(
    definition: TeamDefinition,
    *,
    user_id: str,
    model_client: Callable[[str | None], ChatCompletionClient],
    tool_context: Callable[[], ToolContext],
) -> Team:
    """The AutoGen team of ``definition``; ``model_client(model_id)`` gives each member's model
    (None: the user's default)."""
    identity = Identity(sub=user_id)
    agents: list[ChatAgent] = [
        AssistantAgent(
            member.name,
            model_client(member.model),
            tools=list(catalog_tools(catalog.describe(identity, member.tools), tool_context)),
            handoffs=list(member.handoffs or []),
            description=member.description or member.name,
            system_message=member.system_message
            or _DEFAULT_SYSTEM.format(name=member.name, description=member.description or ""),
            reflect_on_tool_use=False,
            max_tool_iterations=MAX_TOOL_ITERATIONS,
        )
        for member in definition.members
    ]
    mode = definition.collaboration_mode
    participants: list[ChatAgent | Team] = list(agents)
    if mode == "round_robin":
        return RoundRobinGroupChat(participants, max_turns=1)
    if mode == "selector":
        manager = model_client(definition.manager_model)
        return SelectorGroupChat(participants, model_client=manager, max_turns=1)
    if mode == "swarm":
        return Swarm(agents, max_turns=1)
    if mode == "graph":
        return _graph(definition, agents)
    raise ValueError(f"{mode} is not an AutoGen collaboration mode")


def _graph(definition: TeamDefinition, agents: list[ChatAgent]) -> Team:
    looping = _in_cycles(definition)
    builder = DiGraphBuilder()
    for agent in agents:
        # A member on a loop runs when any edge into it fires (the way in, or the way back);
        # elsewhere a member with several parents waits for all of them (a join).
        builder.add_node(agent, activation="any" if agent.name in looping else "all")
    for edge in definition.edges:
        builder.add_edge(edge.from_, edge.to, condition=edge.condition)
    if definition.entry is not None:
        builder.set_entry_point(definition.entry)
    return ResumableGraphFlow(agents, graph=builder.build(), max_turns=1)


def _in_cycles(definition: TeamDefinition) -> set[str]:
    """The members that lie on a cycle of the graph (they can reach themselves)."""
    outgoing: dict[str, set[str]] = {}
    for edge in definition.edges:
        outgoing.setdefault(edge.from_, set()).add(edge.to)

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        stack = list(outgoing.get(start, ()))
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(outgoing.get(name, ()))
        return seen

    return {member.name for member in definition.members if member.name in reachable(member.name)}


class _ResumableGraphFlowManager(GraphFlowManager):
    """GraphFlow's manager with the bookkeeping of loops in its saved state.

    AutoGen 0.7.5 leaves out which activation groups fired for a member (microsoft/autogen#7043):
    a loop's member restored from a saved state is never made ready again.
    """

    async def save_state(self) -> Mapping[str, Any]:
        state = dict(await super().save_state())
        state["triggered_activation_groups"] = {
            target: sorted(groups) for target, groups in self._triggered_activation_groups.items()
        }
        return state

    async def load_state(self, state: Mapping[str, Any]) -> None:
        await super().load_state(state)
        triggered = state.get("triggered_activation_groups", {})
        self._triggered_activation_groups = {target: set(groups) for target, groups in triggered.items()}


class ResumableGraphFlow(GraphFlow):
    @override
    def _create_group_chat_manager_factory(  # AutoGen's signature
        self,
        name: str,
        group_topic_type: str,
        output_topic_type: str,
        participant_topic_types: list[str],
        participant_names: list[str],
        participant_descriptions: list[str],
        output_message_queue: asyncio.Queue[BaseAgentEvent | BaseChatMessage | GroupChatTermination],
        termination_condition: TerminationCondition | None,
        max_turns: int | None,
        message_factory: MessageFactory,
    ) -> Callable[[], GraphFlowManager]:
        def _factory() -> GraphFlowManager:
            return _ResumableGraphFlowManager(
                name=name,
                group_topic_type=group_topic_type,
                output_topic_type=output_topic_type,
                participant_topic_types=participant_topic_types,
                participant_names=participant_names,
                participant_descriptions=participant_descriptions,
                output_message_queue=output_message_queue,
                termination_condition=termination_condition,
                max_turns=max_turns,
                message_factory=message_factory,
                graph=self._graph,
            )

        return _factory
