"""The agent tool catalog as AutoGen tools.

AutoGen sees each catalog tool under a name that providers accept and with the catalog's own
input schema; a call goes through `catalog.call` (argument checks, limits, the operation log, a
row of `agent_tool_calls`). A failed call raises, so that AutoGen hands the model an error result
(`is_error`) it can read and act on.

AutoGen's cancellation token is not linked to the call: a team run is never cancelled in the
middle of a turn (a cancel is honoured between turns), and a tool call that has started always
ends within the run's deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from autogen_core import CancellationToken
from autogen_core.tools import BaseTool, ToolSchema
from pydantic import ConfigDict

from auralink.agents.tools import catalog
from auralink.agents.tools.base import ToolContext, ToolDescription
from auralink.agents.tools.names import model_tool_names
from auralink.model import DeferredModel


class ToolFailed(Exception):
    """What the model reads of a failed call: the error code and the tool's message."""


class _AnyArguments(DeferredModel):
    model_config = ConfigDict(extra="allow")


# AutoGen types a tool's result as a model; any value works, and the text is what the model reads.
class CatalogTool(BaseTool[_AnyArguments, str]):  # type: ignore[type-var]
    def __init__(
        self,
        description: ToolDescription,
        model_name: str,
        context: Callable[[], ToolContext],
    ) -> None:
        super().__init__(_AnyArguments, str, model_name, description.description)
        self.catalog_name = description.name
        self._input_schema = description.input_schema or {"type": "object", "properties": {}}
        self._context = context

    @property
    def schema(self) -> ToolSchema:
        parameters: Any = self._input_schema
        return ToolSchema(name=self.name, description=self.description, parameters=parameters)

    async def run(self, args: _AnyArguments, cancellation_token: CancellationToken) -> str:
        return await self._call(args.model_dump())

    async def run_json(
        self, args: Mapping[str, Any], cancellation_token: CancellationToken, call_id: str | None = None
    ) -> Any:
        # The catalog checks the arguments against the tool's own schema, not AutoGen's model.
        return await self._call(dict(args))

    async def _call(self, arguments: dict[str, Any]) -> str:
        output = await asyncio.to_thread(catalog.call, self._context(), self.catalog_name, arguments)
        if output.is_error:
            raise ToolFailed(f"Error ({output.error_code}): {output.text}")
        return output.text


def catalog_tools(
    descriptions: list[ToolDescription], context: Callable[[], ToolContext]
) -> list[CatalogTool]:
    names = model_tool_names([tool.name for tool in descriptions])
    return [CatalogTool(tool, names[tool.name], context) for tool in descriptions]
