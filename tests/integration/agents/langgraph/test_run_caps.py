"""Caps a run meets. A tool that answers more than a run keeps: the run's output, its checkpoints
and the agent's conversation hold a cut result with a visible marker; the log records what the
tool answered. A template that multiplies a value past its size fails the run before the model
is called."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auralink.db import tenant_transaction
from tests.fakes.flood_server import bulky_app
from tests.fakes.mcp_servers import LoopbackServer
from tests.fakes.openai_server import Calls, Text
from tests.integration.agents.langgraph.conftest import run_to_end
from tests.support.environment import forget_caches
from tests.support.runs import read_run

CAP = 4096
COUNT = 2000  # items of 100 characters: about 200 kB as data, and again as text


@pytest.fixture(scope="module")
def bulky() -> Iterator[LoopbackServer]:
    with LoopbackServer(bulky_app(), name="bulky") as server:
        yield server


@pytest.fixture
def capped(tools_env: pytest.MonkeyPatch) -> None:
    tools_env.setenv("MAX_TOOL_RESULT_BYTES", str(CAP))
    forget_caches()


PAUSED_AFTER_A_TOOL = {
    "entry": "fetch",
    "nodes": [
        {"id": "fetch", "kind": "tool", "tool": "mcp:bulky/bulky", "arguments": {"count": COUNT}},
        {"id": "check", "kind": "human", "prompt": "Fine?"},
    ],
    "edges": [{"from": "fetch", "to": "check"}, {"from": "check", "to": "END"}],
}


def test_a_tool_nodes_large_result_is_kept_cut_in_the_checkpoint_and_the_output(
    capped, user, start, connect_server, bulky
):
    connect_server(user, "custom", endpoint=bulky.url, name="bulky")
    run_id = start(user, PAUSED_AFTER_A_TOOL)

    assert run_to_end(run_id, user) == ["waiting_for_input"]

    with tenant_transaction(user) as conn:
        blobs = conn.execute(
            "SELECT coalesce(max(length(blob)), 0) AS largest, count(*) AS n"
            " FROM checkpoint_blobs WHERE thread_id = %s",
            (run_id,),
        ).fetchone()
        writes = conn.execute(
            "SELECT coalesce(max(length(blob)), 0) AS largest FROM checkpoint_writes WHERE thread_id = %s",
            (run_id,),
        ).fetchone()
        (logged,) = conn.execute(
            "SELECT response_bytes FROM agent_tool_calls WHERE run_id = %s", (run_id,)
        ).fetchall()
    assert blobs["n"] > 0
    assert blobs["largest"] < 2 * CAP and writes["largest"] < 2 * CAP
    assert logged["response_bytes"] > COUNT * 100  # what the tool answered, not what the run kept
    run = read_run(user, run_id)
    assert run["status"] == "waiting_for_input"


def test_the_run_output_shows_the_cut(capped, user, start, connect_server, bulky):
    connect_server(user, "custom", endpoint=bulky.url, name="bulky")
    definition = {
        "entry": "fetch",
        "nodes": [{"id": "fetch", "kind": "tool", "tool": "mcp:bulky/bulky", "arguments": {"count": COUNT}}],
        "edges": [{"from": "fetch", "to": "END"}],
    }
    run_id = start(user, definition)

    assert run_to_end(run_id, user) == ["succeeded"]

    kept = read_run(user, run_id)["output"]["result"]
    assert kept["truncated"] is True and kept["max_bytes"] == CAP
    assert kept["original_bytes"] > COUNT * 100
    assert kept["preview"].startswith('{"items":["xxxx')


def test_an_agent_reads_the_cut_text_and_is_told_it_was_cut(
    capped, user, start, model, connect_server, bulky
):
    connect_server(user, "custom", endpoint=bulky.url, name="bulky")
    model.script.then(Calls([("mcp__bulky__bulky", {"count": COUNT})]), Text("Many items."))
    definition = {
        "entry": "work",
        "nodes": [{"id": "work", "kind": "agent", "instructions": "Count.", "tools": ["mcp:bulky/bulky"]}],
        "edges": [{"from": "work", "to": "END"}],
    }
    run_id = start(user, definition)

    assert run_to_end(run_id, user) == ["succeeded"]

    (tool_message,) = [m for m in model.script.received[1].body["messages"] if m["role"] == "tool"]
    content = tool_message["content"]
    assert len(content.encode()) < CAP + 100
    assert content.endswith(f"the first {CAP} kept]")
    assert "[truncated: " in content


def test_a_template_that_multiplies_a_value_fails_the_run_before_the_model_is_called(
    tools_env, user, start, model
):
    tools_env.setenv("MAX_RENDERED_TEMPLATE_CHARS", "2048")
    forget_caches()
    definition = {
        "entry": "echo",
        "nodes": [{"id": "echo", "kind": "llm", "prompt": "{input.text}{input.text}"}],
        "edges": [{"from": "echo", "to": "END"}],
    }
    run_id = start(user, definition, {"text": "x" * 1500})

    assert run_to_end(run_id, user) == ["failed"]

    error = read_run(user, run_id)["error"]
    assert error["code"] == "template_too_large"
    assert "2048 characters" in error["message"]
    assert model.script.received == []
