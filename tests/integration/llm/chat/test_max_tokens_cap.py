"""max_tokens past LLM_MAX_TOKENS: refused with a 422 naming the cap, before any provider is called."""

from __future__ import annotations

import pytest

from auralink.errors import ValidationFailed
from auralink.llm.factories.langchain import chat_model
from tests.fakes.openai_server import Text
from tests.integration.llm.chat.test_chat import MESSAGES, use_openai_compatible
from tests.support.environment import forget_caches
from tests.support.handlers import request

CAP = 4096
LLM_NODE = {"id": "say", "kind": "llm", "prompt": "Say hi", "model": "openai/gpt-5.4-mini"}


@pytest.fixture
def capped(llm: pytest.MonkeyPatch) -> None:
    llm.setenv("LLM_MAX_TOKENS", str(CAP))
    forget_caches()


def test_the_chat_route_refuses_max_tokens_over_the_cap(capped, api, make_user_id, openai_compatible):
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)

    status, body = api("LlmChatFunction", user, body={"messages": MESSAGES, "max_tokens": CAP + 1})

    assert (status, body["error"]["code"]) == (422, "max_tokens_too_large")
    assert body["error"]["message"] == f"max_tokens may be at most {CAP}"
    assert body["error"]["details"] == [
        {"field": "body.max_tokens", "message": f"max_tokens may be at most {CAP}"}
    ]
    assert openai_compatible.script.received == []
    # At the cap, the call goes out with it.
    openai_compatible.script.then(Text("hi"))
    status, body = api("LlmChatFunction", user, body={"messages": MESSAGES, "max_tokens": CAP})
    assert status == 200, body
    assert openai_compatible.script.received[-1].body["max_tokens"] == CAP


def test_every_model_call_meets_the_cap(capped, api, make_user_id, openai_compatible):
    # A run's nodes and the frameworks' adapters call the gateway without the chat route.
    user = make_user_id()
    use_openai_compatible(api, user, openai_compatible)

    with pytest.raises(ValidationFailed) as raised:
        chat_model(user, max_tokens=CAP * 2).invoke("hi")

    assert raised.value.code == "max_tokens_too_large"
    assert openai_compatible.script.received == []


def test_a_workflow_whose_llm_node_asks_for_more_is_refused(capped, token_for, make_user_id):
    user = make_user_id()
    definition = {
        "entry": "say",
        "nodes": [{**LLM_NODE, "max_tokens": CAP + 1}],
        "edges": [{"from": "say", "to": "END"}],
    }

    status, body, _ = request(
        "CreateWorkflowFunction", token_for(user), body={"name": "w", "definition": definition}
    )

    assert (status, body["error"]["code"]) == (422, "max_tokens_too_large")
    assert body["error"]["details"] == [
        {"field": "body.definition.nodes[0].max_tokens", "message": f"max_tokens may be at most {CAP}"}
    ]
    # With another problem besides, the answer is the usual list of every problem.
    definition["entry"] = "nowhere"
    status, body, _ = request(
        "CreateWorkflowFunction", token_for(user), body={"name": "w", "definition": definition}
    )
    assert (status, body["error"]["code"]) == (422, "validation_failed")
    assert len(body["error"]["details"]) >= 2
