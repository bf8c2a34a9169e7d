"""The agent frameworks' model interfaces: the gateway's models, keys, prices and metrics rows."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal

import pytest
from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    SystemMessage,
    UserMessage,
)
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.messages import SystemMessage as LcSystemMessage
from langchain_core.tools import tool

from auralink.db import tenant_transaction
from auralink.errors import DomainError
from auralink.llm import registry
from auralink.llm.factories.autogen import model_client
from auralink.llm.factories.langchain import chat_model
from tests.fakes.openai_server import Calls, Text
from tests.integration.llm.chat.test_chat import use_openai_compatible
from tests.support.runs import create_run

MODEL = "openai/gpt-5.4-mini"


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def metric_rows(user: str) -> list[dict]:
    with tenant_transaction(user) as conn:
        return conn.execute(
            "SELECT model, status, error_code, input_tokens, output_tokens, cost_usd, run_id::text AS run_id"
            " FROM llm_performance_metrics ORDER BY created_at, id"
        ).fetchall()


def price(input_tokens: int, output_tokens: int) -> Decimal:
    """As stored: llm_performance_metrics keeps micro-dollars."""
    cost = registry.cost_usd(registry.resolve_model(MODEL), input_tokens, output_tokens)
    return cost.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def test_langchain_model_answers_with_usage_and_records_the_call(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Text("Bonjour", input_tokens=40, output_tokens=5))

    answer = chat_model(user).invoke([LcSystemMessage("Answer in French."), HumanMessage("Say hello")])

    assert answer.content == "Bonjour"
    assert answer.usage_metadata == {"input_tokens": 40, "output_tokens": 5, "total_tokens": 45}
    assert answer.response_metadata["model_name"] == MODEL
    sent = openai_compatible.script.received[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    (row,) = metric_rows(user)
    assert (row["status"], row["input_tokens"], row["output_tokens"]) == ("success", 40, 5)
    assert row["cost_usd"] == price(40, 5)


def test_langchain_stop_words_reach_the_provider(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Text("Thought: done"))

    chat_model(user).invoke([HumanMessage("Think")], stop=["\nObservation:"])

    assert openai_compatible.script.received[-1].body["stop"] == ["\nObservation:"]


def test_langchain_tool_round_trip(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Calls([("multiply", {"a": 6, "b": 7})]), Text("It is 42."))
    model = chat_model(user, MODEL).bind_tools([multiply])

    first = model.invoke([HumanMessage("What is 6 times 7?")])
    (call,) = first.tool_calls
    assert (call["name"], call["args"]) == ("multiply", {"a": 6, "b": 7})
    result = multiply.invoke(call["args"])
    final = model.invoke(
        [HumanMessage("What is 6 times 7?"), first, ToolMessage(str(result), tool_call_id=call["id"])]
    )

    assert final.content == "It is 42."
    first_request, second_request = (r.body for r in openai_compatible.script.received)
    assert first_request["tools"][0]["function"]["name"] == "multiply"
    assert first_request["tools"][0]["function"]["parameters"]["required"] == ["a", "b"]
    assistant, tool_turn = second_request["messages"][1:]
    assert assistant["tool_calls"][0]["function"]["name"] == "multiply"
    assert tool_turn == {"role": "tool", "content": "42", "tool_call_id": call["id"]}
    assert len(metric_rows(user)) == 2


def test_the_run_id_goes_on_the_metrics_row(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    run_id = create_run(user, framework="langgraph")
    openai_compatible.script.then(Text("ok"))

    chat_model(user, run_id=run_id).invoke("hi")

    assert [row["run_id"] for row in metric_rows(user)] == [run_id]


def test_autogen_client_text_function_calls_and_usage(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(
        Calls([("multiply", {"a": 2, "b": 21})], input_tokens=30, output_tokens=10),
        Text("42", input_tokens=50, output_tokens=2),
    )
    client = model_client(user)
    parameters = multiply.args_schema.model_json_schema()
    tools = [{"name": "multiply", "description": "Multiply", "parameters": parameters}]
    history = [SystemMessage(content="Use tools."), UserMessage(content="2 times 21?", source="user")]

    first = asyncio.run(client.create(history, tools=tools))
    assert first.finish_reason == "function_calls"
    (call,) = first.content
    assert isinstance(call, FunctionCall) and json.loads(call.arguments) == {"a": 2, "b": 21}
    history += [
        AssistantMessage(content=[call], source="assistant"),
        FunctionExecutionResultMessage(
            content=[FunctionExecutionResult(content="42", name="multiply", call_id=call.id)]
        ),
    ]
    second = asyncio.run(client.create(history, tools=tools))

    assert (second.content, second.finish_reason) == ("42", "stop")
    assert (client.actual_usage().prompt_tokens, client.actual_usage().completion_tokens) == (50, 2)
    assert (client.total_usage().prompt_tokens, client.total_usage().completion_tokens) == (80, 12)
    sent = openai_compatible.script.received[-1].body["messages"]
    assert sent[-1] == {"role": "tool", "content": "42", "tool_call_id": call.id}
    assert client.model_info["function_calling"] is True
    assert 0 < client.remaining_tokens(history) < registry.resolve_model(MODEL).context_window
    assert [row["cost_usd"] for row in metric_rows(user)] == [price(30, 10), price(50, 2)]


def test_a_missing_key_is_the_gateways_error_and_is_recorded(api, make_user_id):
    user = make_user_id()
    status, _ = api("LlmPutPreferencesFunction", user, body={"default_model": "anthropic/claude-sonnet-4-6"})
    assert status == 200

    with pytest.raises(DomainError) as raised:
        chat_model(user).invoke("hi")

    assert raised.value.code == "llm_key_missing"
    (row,) = metric_rows(user)
    assert (row["status"], row["error_code"]) == ("error", "llm_key_missing")


def test_no_model_and_no_default_is_a_clear_error(api, make_user_id):
    with pytest.raises(DomainError) as raised:
        model_client(make_user_id())
    assert raised.value.code == "model_required"


def test_the_chat_endpoints_code_imports_no_agent_framework():
    probe = (
        "import sys, auralink.llm.chat, auralink.llm.gateway;"
        "print(sorted(m for m in ('langchain_core', 'autogen_core') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_autogen_client_keeps_the_text_beside_tool_calls(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Calls([("multiply", {"a": 6, "b": 7})], content="Let me multiply."))
    tools = [
        {
            "name": "multiply",
            "description": "Multiply",
            "parameters": multiply.args_schema.model_json_schema(),
        }
    ]

    result = asyncio.run(
        model_client(user).create([UserMessage(content="6 x 7?", source="user")], tools=tools)
    )

    assert result.finish_reason == "function_calls" and result.thought == "Let me multiply."


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"tool_choice": "required"}, "tool_choice required"),
        ({"json_output": True}, "json_output"),
        ({"extra_create_args": {"top_p": 0.5}}, "extra_create_args top_p"),
    ],
)
def test_autogen_client_refuses_what_it_cannot_honour(api, make_user_id, openai_compatible, options, named):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)

    with pytest.raises(DomainError) as refused:
        asyncio.run(model_client(user).create([UserMessage(content="hi", source="user")], **options))

    assert refused.value.code == "model_option_unsupported" and named in refused.value.message
    assert openai_compatible.script.received == []


def test_autogen_client_call_is_abandoned_when_its_token_is_cancelled(api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)
    openai_compatible.script.then(Text("too late"))
    token = CancellationToken()

    async def cancelled_call() -> None:
        call = asyncio.ensure_future(
            model_client(user).create([UserMessage(content="hi", source="user")], cancellation_token=token)
        )
        await asyncio.sleep(0)
        token.cancel()
        await call

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancelled_call())
