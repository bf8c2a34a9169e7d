"""A crew's definition compiled into CrewAI objects for one task at a time.

Each turn of a run is one task: a Crew of the team's agents (all of them, so that delegation and
a hierarchical manager see the whole crew) and that task only. The tasks done before it are
rebuilt with their saved outputs and given as its `context`: the ones it names, or every earlier
one, which is what CrewAI's sequential process gives a task that names none. The task then reads
what it would have read in one kickoff, and a step that dies loses the task under way only.

Placeholders `{task_description}` and `{additional_context}` in task and agent texts are filled
here, not by CrewAI's `kickoff(inputs=...)`: any other text in braces stays as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, cast

from crewai import LLM, Agent, Crew, Process
from crewai import Task as CrewTask
from crewai.agents.agent_builder.base_agent import BaseAgent
from crewai.tasks.task_output import TaskOutput
from crewai.tools import BaseTool
from crewai.tools.agent_tools.ask_question_tool import AskQuestionTool
from crewai.tools.agent_tools.base_agent_tools import BaseAgentTool
from crewai.tools.agent_tools.delegate_work_tool import DelegateWorkTool
from crewai.utilities.i18n import get_i18n
from pydantic import BaseModel, ConfigDict

from auralink.agents.crewai.api import RunApi
from auralink.agents.crewai.plan import MANAGER, CrewPlan, PinnedTool
from auralink.agents.teams.models import Member, Task
from auralink.model import DeferredModel

_PLACEHOLDER = re.compile(r"\{(task_description|additional_context)\}")
# CrewAI's default for an agent (25) is more model calls than one task of a run needs.
DEFAULT_MAX_ITER = 15

# (member, catalog name, arguments) before the call; (member, catalog name, text, failed) after.
ToolCallHook = Callable[[str, str, dict[str, Any]], str]
ToolResultHook = Callable[[str, str, str, str, bool], None]
# (who delegates, the coworker's role as the model named it, the task or question) before the
# coworker starts on it.
DelegationHook = Callable[[str, str | None, str], None]


def fill(text: str, inputs: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: inputs[match.group(1)], text)


def inputs_of(task: str, context: dict[str, Any]) -> dict[str, str]:
    return {"task_description": task, "additional_context": json.dumps(context, ensure_ascii=False)}


class _AnyArguments(DeferredModel):
    model_config = ConfigDict(extra="allow")


def _arguments_model(tool: PinnedTool) -> type[BaseModel]:
    """A model whose JSON Schema is the tool's own, so that the model is told the catalog's
    schema; it has no fields, so CrewAI passes the arguments through unchecked (the catalog
    checks them against the same schema)."""
    schema = dict(tool.input_schema or {"type": "object", "properties": {}})

    class Arguments(_AnyArguments):
        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            copy: dict[str, Any] = json.loads(json.dumps(schema))
            return copy

    Arguments.__name__ = tool.model_name
    return Arguments


class CatalogTool(BaseTool):
    """A catalog tool called through the API as the run; each call and result is a message."""

    member: str
    catalog_name: str
    api: Any
    on_call: Any
    on_result: Any

    def _run(self, **arguments: Any) -> str:
        call_id = self.on_call(self.member, self.catalog_name, arguments)
        text, failed = self.api.call_tool(self.catalog_name, arguments)
        self.on_result(self.member, call_id, self.catalog_name, text, failed)
        return str(text)


class _Announcing(BaseAgentTool):
    """A delegation tool of CrewAI's that announces each delegation in the thread that runs it,
    before the coworker starts: the handoff comes before anything the coworker says."""

    sender: str
    announce: Any

    def _execute(self, agent_name: str | None, task: str, context: str | None = None) -> str:
        self.announce(self.sender, agent_name, task)
        return super()._execute(agent_name, task, context)


class _DelegateWork(DelegateWorkTool, _Announcing):
    pass


class _AskQuestion(AskQuestionTool, _Announcing):
    pass


class RunAgent(Agent):
    """An agent of a run: its delegation tools announce each delegation (`DelegationHook`)."""

    sender: str
    announce: Any

    def get_delegation_tools(self, agents: Sequence[BaseAgent]) -> list[BaseTool]:
        announced: list[BaseTool] = []
        for tool in super().get_delegation_tools(agents):
            kind = _AskQuestion if isinstance(tool, AskQuestionTool) else _DelegateWork
            announced.append(
                kind(
                    agents=list(agents),
                    description=tool.description,
                    sender=self.sender,
                    announce=self.announce,
                )
            )
        return announced


class CrewBuilder:
    def __init__(
        self,
        plan: CrewPlan,
        api: RunApi,
        inputs: dict[str, str],
        *,
        on_tool_call: ToolCallHook,
        on_tool_result: ToolResultHook,
        on_delegation: DelegationHook,
    ) -> None:
        self.plan = plan
        self.api = api
        self.inputs = inputs
        self.on_tool_call = on_tool_call
        self.on_tool_result = on_tool_result
        self.on_delegation = on_delegation
        self._llms: dict[str, LLM] = {}

    def llm(self, model_id: str) -> LLM:
        if model_id not in self._llms:
            # `openai/` picks CrewAI's OpenAI client; the rest is the registry's own id. Made
            # without a key, the LLM defers its OpenAI clients, which would each load the CA
            # bundle (~45 ms a model a step): it is given the step's client, on the run's TLS
            # context, instead.
            llm = LLM(
                model=f"openai/{model_id}",
                base_url=self.api.openai_base_url,
                api_key=None,
                timeout=max(self.api.remaining_s(), 1.0),
                max_retries=0,
            )
            llm.api_key = self.api.token
            clients = cast(Any, llm)
            clients._client = self.api.openai_client()
            # Built again on first use, with the run's token (never a key from the environment).
            clients._async_client = None
            self._llms[model_id] = llm
        return self._llms[model_id]

    def agent(self, member: Member) -> Agent:
        return RunAgent(
            sender=member.name,
            announce=self.on_delegation,
            role=fill(member.role or member.name, self.inputs),
            goal=fill(member.goal or "", self.inputs),
            backstory=fill(member.backstory or "", self.inputs),
            llm=self.llm(self.plan.models[member.name]),
            tools=self._tools(member),
            allow_delegation=bool(member.allow_delegation),
            max_iter=member.max_iter or DEFAULT_MAX_ITER,
            # A failed model call ends the task with the gateway's error, not a silent retry.
            max_retry_limit=0,
            verbose=False,
        )

    def _tools(self, member: Member) -> list[BaseTool]:
        return [
            CatalogTool(
                name=tool.model_name,
                description=tool.description or tool.name,
                args_schema=_arguments_model(tool),
                member=member.name,
                catalog_name=tool.name,
                api=self.api,
                on_call=self.on_tool_call,
                on_result=self.on_tool_result,
            )
            for tool in self.plan.tools_of(member.tools)
        ]

    def description(self, index: int, feedback: tuple[str, str] | None) -> str:
        """What task ``index`` asks, with the inputs filled in (and the feedback, to do it again)."""
        description = fill(self.plan.tasks()[index].description, self.inputs)
        if feedback is not None:
            previous, answer = feedback
            description += f"\n\nYour previous answer:\n{previous}\n\n" + get_i18n().slice(
                "human_feedback"
            ).format(human_feedback=answer)
        return description

    def crew(
        self, index: int, outputs: list[TaskOutput], feedback: tuple[str, str] | None
    ) -> tuple[Crew, CrewTask]:
        """The crew that does task ``index``, after the tasks whose ``outputs`` are saved;
        ``feedback``: (the task's previous answer, a person's feedback on it) to do it again."""
        tasks = self.plan.tasks()
        agents = {member.name: self.agent(member) for member in self.plan.team.members}
        earlier = [self._done(task, output) for task, output in zip(tasks, outputs, strict=False)]
        task = tasks[index]
        named = set(task.context)
        context = [
            done for done, spec in zip(earlier, tasks, strict=False) if not named or spec.name in named
        ]
        current = CrewTask(
            name=task.name,
            description=self.description(index, feedback),
            expected_output=fill(task.expected_output, self.inputs),
            agent=agents[task.agent] if task.agent is not None else None,
            context=context,
        )
        hierarchical = self.plan.team.collaboration_mode == "hierarchical"
        crew = Crew(
            agents=list(agents.values()),
            tasks=[current],
            process=Process.hierarchical if hierarchical else Process.sequential,
            manager_agent=self._manager() if hierarchical else None,
            memory=False,
            verbose=False,
        )
        return crew, current

    def _manager(self) -> Agent:
        i18n = get_i18n()
        return RunAgent(
            sender=MANAGER,
            announce=self.on_delegation,
            role=i18n.retrieve("hierarchical_manager_agent", "role"),
            goal=i18n.retrieve("hierarchical_manager_agent", "goal"),
            backstory=i18n.retrieve("hierarchical_manager_agent", "backstory"),
            llm=self.llm(self.plan.models[MANAGER]),
            allow_delegation=True,
            max_retry_limit=0,
            verbose=False,
        )

    def _done(self, task: Task, output: TaskOutput) -> CrewTask:
        done = CrewTask(
            name=task.name,
            description=fill(task.description, self.inputs),
            expected_output=fill(task.expected_output, self.inputs),
        )
        done.output = output
        return done
