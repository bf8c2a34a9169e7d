"""Whether a team definition holds together, and whether a team can run.

`definition_problems` checks a parsed definition without I/O: the mode against the framework,
member names (identifiers, unique), each member's fields against its framework, handoffs, a
graph's edges (members, a start, an exit, cycles that can end), a crew's tasks. `reference_problems`
asks whether the tools and models named exist for the user (the workflows' rules, shared).
`runnable_problems` is what an execution needs beyond a valid definition: enough members.

Every problem names the path of the field at fault (``body.members[1].handoffs[0]``), as the
workflows' validation does, and all are reported at once in one `ValidationFailed`.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Iterator

from auralink.agents.teams.models import (
    AUTOGEN_MODES,
    CREWAI_MODES,
    USER,
    Edge,
    Member,
    Task,
    TeamDefinition,
)
from auralink.agents.tools.references import References
from auralink.auth import Identity
from auralink.errors import ValidationFailed

BODY = "body"
TEAM = "team"

Problem = dict[str, str]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_AUTOGEN_FIELDS = ("description", "system_message", "handoffs")
_CREWAI_FIELDS = ("role", "goal", "backstory", "allow_delegation", "max_iter")
_MODES = {"autogen": AUTOGEN_MODES, "crewai": CREWAI_MODES}
_MANAGED_MODES = ("selector", "hierarchical")
_AT_LEAST_TWO = ("selector", "swarm")
# What a crew's texts may name in braces: the run's inputs (CrewAI's `{name}` placeholders).
CREW_INPUTS = ("task_description", "additional_context")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def field(root: str, *parts: str | int) -> str:
    path = root
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _problem(path: str, message: str) -> Problem:
    return {"field": path, "message": message}


def failed(problems: list[Problem], subject: str = "The team") -> ValidationFailed:
    plural = "s" if len(problems) > 1 else ""
    return ValidationFailed(f"{subject} has {len(problems)} problem{plural}", details=problems)


def _is_identifier(name: str) -> bool:
    return _IDENTIFIER.match(name) is not None and not keyword.iskeyword(name)


# ---------------------------------------------------------------- members


def _name_problems(root: str, members: list[Member]) -> Iterator[Problem]:
    first_at: dict[str, int] = {}
    for index, member in enumerate(members):
        path = field(root, "members", index, "name")
        if member.name == USER:
            yield _problem(path, f"{USER!r} is reserved: it names the person in handoffs")
        elif not _is_identifier(member.name):
            yield _problem(
                path,
                "a member name is an identifier: letters, digits and _, not starting with a digit,"
                " not a Python keyword",
            )
        first = first_at.setdefault(member.name, index)
        if first != index:
            yield _problem(path, f"the name {member.name!r} is used by members[{first}] already")


def _given(member: Member, name: str) -> bool:
    value = getattr(member, name)
    return value is not None and value != []


def _field_problems(root: str, framework: str, index: int, member: Member) -> Iterator[Problem]:
    foreign: tuple[str, ...]
    required: tuple[str, ...]
    if framework == "autogen":
        foreign, required = _CREWAI_FIELDS, ("description",)
        hint = "an AutoGen member has description, system_message, model, tools and handoffs"
    else:
        foreign, required = _AUTOGEN_FIELDS, ("role", "goal", "backstory")
        hint = "a CrewAI member has role, goal, backstory, model, tools, allow_delegation and max_iter"
    for name in foreign:
        if _given(member, name):
            yield _problem(field(root, "members", index, name), f"not a field of {framework} members: {hint}")
    for name in required:
        if getattr(member, name) is None:
            yield _problem(field(root, "members", index, name), f"{framework} members need a {name}")


def _handoff_problems(root: str, mode: str, members: list[Member]) -> Iterator[Problem]:
    names = {member.name for member in members}
    for index, member in enumerate(members):
        if not member.handoffs:
            continue
        if mode != "swarm":
            yield _problem(
                field(root, "members", index, "handoffs"),
                "handoffs are for swarm teams: in other modes the team decides who speaks next",
            )
            continue
        seen: set[str] = set()
        for position, target in enumerate(member.handoffs):
            path = field(root, "members", index, "handoffs", position)
            if target in seen:
                yield _problem(path, f"{target!r} is listed twice")
            elif target == member.name:
                yield _problem(path, "a member cannot hand off to itself")
            elif target != USER and target not in names:
                yield _problem(path, f"no member {target!r} in this team (or {USER!r}, the person)")
            seen.add(target)


def _member_problems(root: str, definition: TeamDefinition) -> Iterator[Problem]:
    yield from _name_problems(root, definition.members)
    for index, member in enumerate(definition.members):
        yield from _field_problems(root, definition.framework, index, member)
        repeated = sorted({tool for tool in member.tools if member.tools.count(tool) > 1})
        if repeated:
            yield _problem(field(root, "members", index, "tools"), f"tools repeated: {', '.join(repeated)}")
    if definition.framework == "autogen":
        yield from _handoff_problems(root, definition.collaboration_mode, definition.members)
    else:
        yield from _crew_member_problems(root, definition.members)


def _placeholder_problems(path: str, text: str | None) -> Iterator[Problem]:
    unknown = sorted({name for name in _PLACEHOLDER.findall(text or "") if name not in CREW_INPUTS})
    if unknown:
        named = ", ".join(f"{{{name}}}" for name in unknown)
        yield _problem(
            path, f"{named}: a crew's texts are given {{task_description}} and {{additional_context}} only"
        )


def _crew_member_problems(root: str, members: list[Member]) -> Iterator[Problem]:
    roles: dict[str, int] = {}
    for index, member in enumerate(members):
        for name in ("role", "goal", "backstory"):
            yield from _placeholder_problems(field(root, "members", index, name), getattr(member, name))
        if member.role is None:
            continue
        # CrewAI's delegation names a coworker by role: two members with one role are one coworker.
        role = member.role.strip().casefold()
        if role in roles:
            yield _problem(
                field(root, "members", index, "role"),
                f"the role is members[{roles[role]}]'s: roles are unique",
            )
        roles.setdefault(role, index)


def _count_problems(root: str, definition: TeamDefinition) -> Iterator[Problem]:
    count = len(definition.members)
    if definition.collaboration_mode in _AT_LEAST_TWO and count < 2:
        yield _problem(
            field(root, "members"),
            f"a {definition.collaboration_mode} team needs two members or more; it has {count}",
        )


# ---------------------------------------------------------------- graph


def _edge_endpoint_problems(root: str, edges: list[Edge], names: set[str]) -> Iterator[Problem]:
    seen: dict[tuple[str, str], int] = {}
    for index, edge in enumerate(edges):
        for end, name in (("from", edge.from_), ("to", edge.to)):
            if name not in names:
                yield _problem(field(root, "edges", index, end), f"no member {name!r} in this team")
        first = seen.setdefault((edge.from_, edge.to), index)
        if first != index:
            yield _problem(field(root, "edges", index), f"the same edge as edges[{first}]")


def _cycle_without_exit(edges: list[Edge], names: list[str]) -> list[str] | None:
    """A cycle of which no edge has a condition (it would never end), else None."""
    outgoing: dict[str, list[Edge]] = {name: [] for name in names}
    for edge in edges:
        outgoing[edge.from_].append(edge)
    visited: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        visited.add(node)
        path.append(node)
        for edge in outgoing[node]:
            if edge.to in path:
                cycle = path[path.index(edge.to) :]
                if all(each.condition is None for name in cycle for each in outgoing[name]):
                    return [*cycle, edge.to]
            elif edge.to not in visited and (found := visit(edge.to)) is not None:
                return found
        path.pop()
        return None

    for name in names:
        if name not in visited and (found := visit(name)) is not None:
            return found
    return None


def _graph_shape_problems(
    root: str, edges: list[Edge], names: list[str], entry: str | None
) -> Iterator[Problem]:
    sources = {edge.from_ for edge in edges}
    targets = {edge.to for edge in edges}
    if entry is None and all(name in targets for name in names):
        yield _problem(
            field(root, "edges"),
            "every member has an incoming edge: the graph has no start; name the first speaker in entry",
        )
    if all(name in sources for name in names):
        yield _problem(
            field(root, "edges"),
            "every member has an outgoing edge: the graph has no exit"
            " (a member with no outgoing edge ends the run)",
        )
    first_kind: dict[str, bool] = {}
    for index, edge in enumerate(edges):
        conditional = edge.condition is not None
        if first_kind.setdefault(edge.from_, conditional) != conditional:
            yield _problem(
                field(root, "edges", index, "condition"),
                f"the edges from {edge.from_!r} must all have a condition or none",
            )
    cycle = _cycle_without_exit(edges, names)
    if cycle is not None:
        yield _problem(
            field(root, "edges"),
            f"the cycle {' -> '.join(cycle)} has no condition on its edges: it would never end",
        )


def _edge_problems(root: str, definition: TeamDefinition) -> Iterator[Problem]:
    names = [member.name for member in definition.members]
    if definition.entry is not None:
        if definition.collaboration_mode != "graph":
            yield _problem(field(root, "entry"), "entry is for graph teams")
        elif definition.entry not in names:
            yield _problem(field(root, "entry"), f"no member {definition.entry!r} in this team")
    if not definition.edges:
        return
    if definition.collaboration_mode != "graph":
        yield _problem(field(root, "edges"), "edges are for graph teams")
        return
    endpoint_problems = list(_edge_endpoint_problems(root, definition.edges, set(names)))
    yield from endpoint_problems
    if not endpoint_problems:
        yield from _graph_shape_problems(root, definition.edges, names, definition.entry)


# ---------------------------------------------------------------- tasks


def _task_context_problems(root: str, index: int, task: Task, earlier: dict[str, int]) -> Iterator[Problem]:
    seen: set[str] = set()
    for position, name in enumerate(task.context):
        path = field(root, "tasks", index, "context", position)
        if name in seen:
            yield _problem(path, f"{name!r} is listed twice")
        elif name == task.name:
            yield _problem(path, "a task cannot be its own context")
        elif name not in earlier:
            yield _problem(path, f"no task {name!r} before this one: context names tasks listed earlier")
        seen.add(name)


def _task_problems(root: str, definition: TeamDefinition) -> Iterator[Problem]:
    if not definition.tasks:
        return
    if definition.framework != "crewai":
        yield _problem(
            field(root, "tasks"), "tasks are for crewai teams: an autogen team works on the run's task"
        )
        return
    members = {member.name for member in definition.members}
    earlier: dict[str, int] = {}
    for index, task in enumerate(definition.tasks):
        if not _is_identifier(task.name):
            yield _problem(
                field(root, "tasks", index, "name"), "a task name is an identifier: letters, digits and _"
            )
        elif task.name in earlier:
            yield _problem(
                field(root, "tasks", index, "name"),
                f"the name {task.name!r} is used by tasks[{earlier[task.name]}]",
            )
        if task.agent is None:
            if definition.collaboration_mode == "sequential":
                yield _problem(
                    field(root, "tasks", index, "agent"), "a sequential crew's task names its agent"
                )
        elif task.agent not in members:
            yield _problem(field(root, "tasks", index, "agent"), f"no member {task.agent!r} in this team")
        yield from _task_context_problems(root, index, task, earlier)
        for name in ("description", "expected_output"):
            yield from _placeholder_problems(field(root, "tasks", index, name), getattr(task, name))
        earlier.setdefault(task.name, index)


# ---------------------------------------------------------------- the team


def _mode_problems(root: str, definition: TeamDefinition) -> Iterator[Problem]:
    modes = _MODES[definition.framework]
    if definition.collaboration_mode not in modes:
        yield _problem(
            field(root, "collaboration_mode"),
            f"{definition.collaboration_mode!r} is not a mode of {definition.framework} teams:"
            f" they take {', '.join(modes)}",
        )
    if definition.manager_model is not None and definition.collaboration_mode not in _MANAGED_MODES:
        yield _problem(
            field(root, "manager_model"),
            "manager_model is for selector (AutoGen) and hierarchical (CrewAI) teams",
        )
    if definition.framework == "crewai" and definition.termination.text_mention is not None:
        yield _problem(
            field(root, "termination", "text_mention"),
            "text_mention is for autogen teams: a crew ends when its tasks are done",
        )


def definition_problems(
    definition: TeamDefinition, *, root: str = BODY, counts: bool = True
) -> list[Problem]:
    """What is wrong with a parsed team, short of its tools and models (no I/O). ``counts``: also
    whether a mode has the members it needs when the team lists some (a whole team saved at once;
    members added one by one are counted when the team runs, by `runnable_problems`)."""
    problems = [
        *_mode_problems(root, definition),
        *_member_problems(root, definition),
        *_edge_problems(root, definition),
        *_task_problems(root, definition),
    ]
    if counts and definition.members:
        problems.extend(_count_problems(root, definition))
    return problems


def reference_problems(
    identity: Identity,
    members: Iterable[tuple[str, Member]],
    manager_model: tuple[str, str | None] | None = None,
) -> list[Problem]:
    """Unknown models and tools: ``members`` as (path of the member, member)."""
    references = References(identity)
    problems: list[Problem] = []
    if (
        manager_model is not None
        and manager_model[1] is not None
        and (problem := references.model_problem(manager_model[1])) is not None
    ):
        problems.append(_problem(manager_model[0], problem))
    for path, member in members:
        if member.model is not None and (problem := references.model_problem(member.model)) is not None:
            problems.append(_problem(f"{path}.model", problem))
        for index, tool in enumerate(member.tools):
            if (problem := references.tool_problem(tool)) is not None:
                problems.append(_problem(f"{path}.tools[{index}]", problem))
    return problems


def runnable_problems(definition: TeamDefinition) -> list[Problem]:
    """Why a stored (valid) team cannot run yet, with paths under ``team``: no members, too few
    for its mode, a swarm whose first member cannot hand off. Empty: it can run."""
    count = len(definition.members)
    if count == 0:
        return [
            _problem(
                field(TEAM, "members"),
                "the team has no members: add them with POST /api/v1/teams/{team_id}/members",
            )
        ]
    problems = list(_count_problems(TEAM, definition))
    if definition.collaboration_mode == "swarm" and not definition.members[0].handoffs:
        problems.append(
            _problem(
                field(TEAM, "members", 0, "handoffs"),
                "a swarm starts with its first member, who must be able to hand off: give it handoffs",
            )
        )
    return problems
