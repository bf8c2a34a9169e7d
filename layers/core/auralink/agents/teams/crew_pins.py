"""A CrewAI team's run pinned at execute (`auralink.agents.crewai.plan.CrewPlan`): the models its
members and manager call and its tools' descriptions, read here in the main environment."""

from __future__ import annotations

from typing import Any

from auralink.agents.crewai.plan import MANAGER, CrewPlan, PinnedTool
from auralink.agents.teams.models import TeamDefinition
from auralink.agents.tools.names import model_tool_names
from auralink.auth import Identity
from auralink.llm import gateway


def pin(identity: Identity, definition: TeamDefinition) -> dict[str, Any]:
    """The plan as JSON; 422 for a model or tool the user no longer has (no default model, a
    connection removed since the team was saved)."""
    callers = {member.name: member.model for member in definition.members}
    if definition.collaboration_mode == "hierarchical":
        callers[MANAGER] = definition.manager_model
    # The user's default and each model are read once, however many members call them.
    entries = gateway.models_for(identity.sub, callers.values())
    models = {name: entries[model].id for name, model in callers.items()}
    # The catalog brings the MCP SDK (its MCP tools' calls): the execute route imports it when a
    # crew starts, not at init for every team's run.
    from auralink.agents.tools import catalog  # noqa: PLC0415

    names = list(dict.fromkeys(tool for member in definition.members for tool in member.tools))
    model_names = model_tool_names(names)
    tools = [
        PinnedTool(
            name=tool.name,
            model_name=model_names[tool.name],
            description=tool.description,
            input_schema=tool.input_schema,
        )
        for tool in catalog.describe(identity, names)
    ]
    plan = CrewPlan(team=definition, models=models, tools=tools)
    return plan.model_dump(mode="json", by_alias=True)
