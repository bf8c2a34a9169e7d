"""A user's teams and their members: create and replace (validated first), read, list, delete.

The checks that need I/O (tools and models) run before the write's transaction opens, in
transactions of their own; the checks of the team as a whole run inside it, on the team's row
locked, so that two changes to one team's members cannot each pass alone and break it together.
A definition that fails them is never stored.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from auralink.agents.teams import repository
from auralink.agents.teams.models import (
    FRAMEWORK_OF_MODE,
    MAX_MEMBERS,
    Member,
    MemberList,
    Team,
    TeamDefinition,
    TeamPage,
    TeamRequest,
    TeamSummary,
)
from auralink.agents.teams.validation import (
    BODY,
    TEAM,
    Problem,
    definition_problems,
    failed,
    field,
    reference_problems,
    runnable_problems,
)
from auralink.auth import Identity
from auralink.db import Connection, tenant_transaction
from auralink.errors import Conflict, NotFound

DEFAULT_MAX_ITER = 15


# ---------------------------------------------------------------- stored form


def normalised(member: Member, framework: str) -> Member:
    """The member as stored: its framework's defaults filled in."""
    if framework == "autogen":
        return member.model_copy(update={"handoffs": member.handoffs or []})
    return member.model_copy(
        update={
            "allow_delegation": bool(member.allow_delegation),
            "max_iter": member.max_iter or DEFAULT_MAX_ITER,
        }
    )


def _columns(member: Member) -> dict[str, Any]:
    extra = {
        name: value
        for name, value in (("allow_delegation", member.allow_delegation), ("max_iter", member.max_iter))
        if value is not None
    }
    return {
        "name": member.name,
        "role": member.role,
        "goal": member.goal,
        "backstory": member.backstory,
        "model": member.model,
        "tools": member.tools,
        "description": member.description,
        "system_message": member.system_message,
        "handoffs": member.handoffs or [],
        "extra": extra,
    }


def _member(row: dict[str, Any], framework: str) -> Member:
    # Every field the row holds, so that a member kept across a change of framework is seen
    # with the fields it has (and refused for them).
    extra = row["extra"]
    return Member(
        name=row["name"],
        model=row["model"],
        tools=list(row["tools"]),
        description=row["description"],
        system_message=row["system_message"],
        handoffs=list(row["handoffs"]) if framework == "autogen" or row["handoffs"] else None,
        role=row["role"],
        goal=row["goal"] or None,
        backstory=row["backstory"] or None,
        allow_delegation=extra.get("allow_delegation"),
        max_iter=extra.get("max_iter"),
    )


def _config(definition: TeamDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json", by_alias=True, exclude={"framework", "members"})


def _definition(team: dict[str, Any], members: list[dict[str, Any]]) -> TeamDefinition:
    framework = team["framework"]
    return TeamDefinition.model_validate(
        {**team["config"], "framework": framework, "members": [_member(row, framework) for row in members]}
    )


def _team(row: dict[str, Any], members: list[dict[str, Any]]) -> Team:
    definition = _definition(row, members)
    return Team(
        team_id=row["id"],
        team_name=row["name"],
        description=row["description"],
        **dict(definition),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _requested(request: TeamRequest, members: list[Member]) -> TeamDefinition:
    return TeamDefinition(
        framework=request.framework or FRAMEWORK_OF_MODE[request.collaboration_mode],
        collaboration_mode=request.collaboration_mode,
        members=members,
        termination=request.termination,
        tasks=request.tasks,
        edges=request.edges,
        entry=request.entry,
        manager_model=request.manager_model,
    )


def _request_references(identity: Identity, request: TeamRequest) -> list[Problem]:
    members = request.members or []
    return reference_problems(
        identity,
        [(field(BODY, "members", index), member) for index, member in enumerate(members)],
        manager_model=(field(BODY, "manager_model"), request.manager_model),
    )


def _store(conn: Connection, user_id: str, team_id: UUID, definition: TeamDefinition) -> None:
    members = [_columns(normalised(member, definition.framework)) for member in definition.members]
    repository.replace_members(conn, user_id=user_id, team_id=team_id, members=members)


# ---------------------------------------------------------------- teams


def create_team(identity: Identity, request: TeamRequest) -> Team:
    definition = _requested(request, request.members or [])
    problems = [*definition_problems(definition), *_request_references(identity, request)]
    if problems:
        raise failed(problems)
    with tenant_transaction(identity.sub) as conn:
        row = repository.insert_team(
            conn,
            user_id=identity.sub,
            name=request.team_name,
            description=request.description,
            framework=definition.framework,
            config=_config(definition),
        )
        _store(conn, identity.sub, row["id"], definition)
        return _team(row, repository.members_of(conn, row["id"]))


def update_team(identity: Identity, team_id: UUID, request: TeamRequest) -> Team:
    references = _request_references(identity, request)
    with tenant_transaction(identity.sub) as conn:
        current = repository.get_team(conn, team_id, for_update=True)
        if request.members is None:
            kept = [_member(row, current["framework"]) for row in repository.members_of(conn, team_id)]
            definition = _requested(request, kept)
            # The members kept are the stored team's, not the body's.
            structural = [
                _moved(problem, field(BODY, "members"), field(TEAM, "members"))
                for problem in definition_problems(definition)
            ]
        else:
            definition = _requested(request, request.members)
            structural = definition_problems(definition)
        if problems := [*structural, *references]:
            raise failed(problems)
        row = repository.replace_team(
            conn,
            team_id,
            name=request.team_name,
            description=request.description,
            framework=definition.framework,
            config=_config(definition),
        )
        if request.members is not None:
            _store(conn, identity.sub, team_id, definition)
        return _team(row, repository.members_of(conn, team_id))


def get_team(identity: Identity, team_id: UUID) -> Team:
    with tenant_transaction(identity.sub) as conn:
        return _team(repository.get_team(conn, team_id), repository.members_of(conn, team_id))


def list_teams(identity: Identity, *, limit: int, cursor: str | None) -> TeamPage:
    with tenant_transaction(identity.sub) as conn:
        rows, next_cursor = repository.page_teams(conn, limit=limit, cursor=cursor)
    return TeamPage(
        teams=[
            TeamSummary(
                team_id=row["id"],
                team_name=row["name"],
                description=row["description"],
                framework=row["framework"],
                collaboration_mode=row["config"]["collaboration_mode"],
                member_count=row["member_count"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
            )
            for row in rows
        ],
        next_cursor=next_cursor,
    )


def delete_team(identity: Identity, team_id: UUID) -> None:
    with tenant_transaction(identity.sub) as conn:
        repository.delete_team(conn, team_id)


# ---------------------------------------------------------------- members


def _moved(problem: Problem, old: str, new: str) -> Problem:
    path = problem["field"]
    if path == old or path.startswith((old + ".", old + "[")):
        return {**problem, "field": new + path[len(old) :]}
    return problem


def _for_member(problems: list[Problem], index: int | None) -> list[Problem]:
    """A team's problems as a member route reports them: the member's own under ``body``, the
    rest of the team's under ``team``."""
    own = field(BODY, "members", index) if index is not None else None
    moved = []
    for problem in problems:
        mine = _moved(problem, own, BODY) if own is not None else problem
        moved.append(mine if mine is not problem else _moved(problem, BODY, TEAM))
    return moved


def _locked(conn: Connection, team_id: UUID) -> tuple[dict[str, Any], list[Member]]:
    team = repository.get_team(conn, team_id, for_update=True)
    return team, [_member(row, team["framework"]) for row in repository.members_of(conn, team_id)]


def _with_members(team: dict[str, Any], members: list[Member]) -> TeamDefinition:
    return TeamDefinition.model_validate(
        {**team["config"], "framework": team["framework"], "members": [m.model_dump() for m in members]}
    )


def _index(members: list[Member], name: str) -> int:
    for index, member in enumerate(members):
        if member.name == name:
            return index
    raise repository.member_not_found(name)


def list_members(identity: Identity, team_id: UUID) -> MemberList:
    with tenant_transaction(identity.sub) as conn:
        team = repository.get_team(conn, team_id)
        return MemberList(
            members=[_member(row, team["framework"]) for row in repository.members_of(conn, team_id)]
        )


def add_member(identity: Identity, team_id: UUID, member: Member) -> Member:
    references = reference_problems(identity, [(BODY, member)])
    with tenant_transaction(identity.sub) as conn:
        team, members = _locked(conn, team_id)
        if any(existing.name == member.name for existing in members):
            raise Conflict(
                f"The team has a member named {member.name!r} already", code="team_member_name_taken"
            )
        if len(members) >= MAX_MEMBERS:
            raise failed(
                [{"field": field(TEAM, "members"), "message": f"a team has at most {MAX_MEMBERS} members"}]
            )
        stored = normalised(member, team["framework"])
        definition = _with_members(team, [*members, member])
        if problems := [
            *_for_member(definition_problems(definition, counts=False), len(members)),
            *references,
        ]:
            raise failed(problems, "The member")
        repository.insert_member(
            conn, user_id=identity.sub, team_id=team_id, member=_columns(stored), position=len(members)
        )
        repository.touch_team(conn, team_id)
    return stored


def update_member(identity: Identity, team_id: UUID, name: str, member: Member) -> Member:
    references = reference_problems(identity, [(BODY, member)])
    with tenant_transaction(identity.sub) as conn:
        team, members = _locked(conn, team_id)
        index = _index(members, name)
        if member.name != name and any(existing.name == member.name for existing in members):
            raise Conflict(
                f"The team has a member named {member.name!r} already", code="team_member_name_taken"
            )
        stored = normalised(member, team["framework"])
        definition = _with_members(team, [*members[:index], member, *members[index + 1 :]])
        if problems := [*_for_member(definition_problems(definition, counts=False), index), *references]:
            raise failed(problems, "The member")
        repository.update_member(conn, team_id, name, _columns(stored))
        repository.touch_team(conn, team_id)
    return stored


def delete_member(identity: Identity, team_id: UUID, name: str) -> None:
    with tenant_transaction(identity.sub) as conn:
        team, members = _locked(conn, team_id)
        index = _index(members, name)
        definition = _with_members(team, [*members[:index], *members[index + 1 :]])
        if problems := _for_member(definition_problems(definition, counts=False), None):
            raise Conflict(
                f"The team still names {name!r}: change what names it first",
                code="team_member_in_use",
                details=problems,
            )
        repository.delete_member(conn, team_id, name)
        repository.touch_team(conn, team_id)


# ---------------------------------------------------------------- for the executors


def get_definition(user_id: str, team_id: str) -> TeamDefinition:
    """The stored team (validated when stored); `team_not_found` for an id that is not the user's."""
    try:
        parsed_id = UUID(team_id)
    except (ValueError, TypeError):
        raise NotFound("Team not found", code="team_not_found") from None
    with tenant_transaction(user_id) as conn:
        return _definition(repository.get_team(conn, parsed_id), repository.members_of(conn, parsed_id))


def runnable_definition(user_id: str, team_id: str) -> TeamDefinition:
    """The stored team if it can run; else `ValidationFailed` (422) naming what is missing."""
    definition = get_definition(user_id, team_id)
    if problems := runnable_problems(definition):
        raise failed(problems, "The team cannot run: it")
    return definition
