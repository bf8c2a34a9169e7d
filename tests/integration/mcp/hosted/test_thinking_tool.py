"""The hosted Sequential Thinking server: the reference's answers, with each user's history in Postgres."""

from __future__ import annotations

import json

import pytest

from auralink.mcp.hosted import thinking_repository
from tests.integration.mcp.hosted.conftest import parsed, text

TOOL = "sequentialthinking"


def thought(number, total, *, more=True, **extra):
    return (
        TOOL,
        {
            "thought": f"step {number}",
            "thoughtNumber": number,
            "totalThoughts": total,
            "nextThoughtNeeded": more,
            **extra,
        },
    )


@pytest.fixture
def alice(token_for, make_user_id):
    return token_for(make_user_id("alice"))


def test_a_chain_of_thoughts_grows_the_history(thinking, mode, alice):
    results = thinking.calls(alice, mode, [thought(1, 3), thought(2, 3), thought(3, 3, more=False)])

    assert [parsed(result) for result in results] == [
        {
            "thoughtNumber": 1,
            "totalThoughts": 3,
            "nextThoughtNeeded": True,
            "branches": [],
            "thoughtHistoryLength": 1,
        },
        {
            "thoughtNumber": 2,
            "totalThoughts": 3,
            "nextThoughtNeeded": True,
            "branches": [],
            "thoughtHistoryLength": 2,
        },
        {
            "thoughtNumber": 3,
            "totalThoughts": 3,
            "nextThoughtNeeded": False,
            "branches": [],
            "thoughtHistoryLength": 3,
        },
    ]
    assert results[2].structured_content == parsed(results[2])
    assert text(results[0]) == json.dumps(parsed(results[0]), indent=2)


def test_a_thought_beyond_the_estimate_raises_the_estimate(thinking, mode, alice):
    _, beyond = thinking.calls(alice, mode, [thought(1, 2), thought(5, 2, needsMoreThoughts=True)])

    assert parsed(beyond)["thoughtNumber"] == 5
    assert parsed(beyond)["totalThoughts"] == 5


def test_the_history_outlives_the_connection_and_the_container(thinking, alice):
    # Each call is its own client and its own Lambda invocation: nothing is kept in memory.
    thinking.call(alice, "2026-07-28", *thought(1, 4))
    thinking.call(alice, "legacy", *thought(2, 4))

    result = thinking.call(alice, "2026-07-28", *thought(3, 4))

    assert parsed(result)["thoughtHistoryLength"] == 3


def test_branches_are_listed_as_the_reference_lists_them(thinking, mode, alice):
    results = thinking.calls(
        alice,
        mode,
        [
            thought(1, 4),
            thought(2, 4),
            thought(3, 4, branchFromThought=2, branchId="alternative"),
            thought(3, 4, branchFromThought=2, branchId="7"),
            thought(4, 4, branchFromThought=2, branchId="alternative"),
            # Not branches: no branching point, or an empty id.
            thought(4, 4, branchId="orphan"),
            thought(4, 4, branchFromThought=1, branchId=""),
        ],
    )

    # JavaScript lists integer-like keys first: the reference answers Object.keys(branches).
    assert parsed(results[3])["branches"] == ["7", "alternative"]
    assert parsed(results[-1])["branches"] == ["7", "alternative"]
    assert parsed(results[-1])["thoughtHistoryLength"] == 7


def test_a_revision_stays_in_the_chain(thinking, mode, alice):
    results = thinking.calls(
        alice, mode, [thought(1, 3), thought(2, 3), thought(1, 3, isRevision=True, revisesThought=1)]
    )

    assert parsed(results[-1])["thoughtHistoryLength"] == 3


def test_a_new_first_thought_starts_a_new_chain(thinking, mode, alice):
    results = thinking.calls(
        alice,
        mode,
        [thought(1, 2), thought(2, 2, branchFromThought=1, branchId="b"), thought(1, 5)],
    )

    assert parsed(results[1])["branches"] == ["b"]
    assert parsed(results[2]) == {
        "thoughtNumber": 1,
        "totalThoughts": 5,
        "nextThoughtNeeded": True,
        "branches": [],
        "thoughtHistoryLength": 1,
    }


def test_a_chain_keeps_only_its_most_recent_thoughts(thinking, alice, monkeypatch):
    monkeypatch.setattr(thinking_repository, "MAX_HISTORY", 3)

    results = thinking.calls(alice, "2026-07-28", [thought(number, 6) for number in range(1, 7)])

    assert [parsed(result)["thoughtHistoryLength"] for result in results] == [1, 2, 3, 3, 3, 3]


def test_each_user_has_their_own_history(thinking, mode, alice, token_for, make_user_id):
    bob = token_for(make_user_id("bob"))
    thinking.calls(alice, mode, [thought(1, 3), thought(2, 3, branchFromThought=1, branchId="mine")])

    result = thinking.call(bob, mode, *thought(2, 3))

    assert parsed(result)["thoughtHistoryLength"] == 1
    assert parsed(result)["branches"] == []


def test_strings_are_accepted_where_the_reference_coerces_them(thinking, alice):
    result = thinking.call(
        alice,
        "2026-07-28",
        TOOL,
        {
            "thought": "t",
            "thoughtNumber": "2",
            "totalThoughts": "3",
            "nextThoughtNeeded": "FALSE",
            "isRevision": "true",
        },
    )

    assert parsed(result) == {
        "thoughtNumber": 2,
        "totalThoughts": 3,
        "nextThoughtNeeded": False,
        "branches": [],
        "thoughtHistoryLength": 1,
    }


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (
            {"thought": "t", "thoughtNumber": 1, "totalThoughts": 1, "nextThoughtNeeded": "maybe"},
            "nextThoughtNeeded",
        ),
        (
            {"thought": "t", "thoughtNumber": 0, "totalThoughts": 1, "nextThoughtNeeded": True},
            "thoughtNumber",
        ),
        ({"thought": "t", "thoughtNumber": 1, "nextThoughtNeeded": True}, "totalThoughts"),
    ],
)
def test_arguments_that_do_not_fit_the_schema_are_tool_errors(thinking, alice, arguments, field):
    result = thinking.call(alice, "2026-07-28", TOOL, arguments)

    assert result.is_error
    assert field in text(result)


def test_a_thought_too_long_fails_as_the_reference_reports_failures(thinking, alice):
    tool, arguments = thought(1, 1)

    result = thinking.call(alice, "2026-07-28", tool, {**arguments, "thought": "x" * 20_001})

    assert result.is_error
    assert json.loads(text(result)) == {
        "error": "thought is longer than 20000 characters",
        "status": "failed",
    }
