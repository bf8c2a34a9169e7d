"""What a crew's run is pinned to when it starts, so that its step needs nothing of the main
environment: the team, the model each member and the manager use, and each tool as the model
is told about it.

Models and tools are resolved at execute, where the registry, the user's preferences and MCP
connections are read: a default model changed, or a connection's tools refreshed, during the run
does not change a crew under way. A tool is still called through the catalog, which checks it
again at the call.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from auralink.agents.teams.models import Task, TeamDefinition
from auralink.model import DeferredModel

# The models map's key for a hierarchical crew's manager.
MANAGER = "__manager__"
# What a crew without tasks is asked to give for the run's task.
DEFAULT_EXPECTED_OUTPUT = "A complete answer to the task"
DEFAULT_TASK = "task"


class PinnedTool(DeferredModel):
    model_config = ConfigDict(frozen=True)

    # The catalog's name (a built-in tool, or mcp:<connection>/<tool>) and the one the model sees.
    name: str
    model_name: str
    description: str
    input_schema: dict[str, Any]


class CrewPlan(DeferredModel):
    model_config = ConfigDict(frozen=True)

    team: TeamDefinition
    # Member name (and MANAGER) → the registry id of the model it calls.
    models: dict[str, str]
    tools: list[PinnedTool] = Field(default_factory=list)

    def tasks(self) -> list[Task]:
        """The crew's tasks; a crew given none does the run's task itself, by its first member
        (sequential) or as its manager assigns it (hierarchical)."""
        if self.team.tasks:
            return list(self.team.tasks)
        sequential = self.team.collaboration_mode == "sequential"
        return [
            Task(
                name=DEFAULT_TASK,
                description="{task_description}\n\nAdditional context (JSON): {additional_context}",
                expected_output=DEFAULT_EXPECTED_OUTPUT,
                agent=self.team.members[0].name if sequential else None,
            )
        ]

    def tools_of(self, names: list[str]) -> list[PinnedTool]:
        wanted = set(names)
        return [tool for tool in self.tools if tool.name in wanted]
