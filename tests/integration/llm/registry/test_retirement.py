"""Retired models: not listed, and refused wherever they are named, with their successor.

A model retires when the curated file says so (its provider withdrew it) or on its shutdown date
from the dataset, with no deployment in between. Models made here carry their dates relative to
today, so that the tests hold whatever day they run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import pytest

from auralink.errors import DomainError
from auralink.llm.factories.autogen import model_client
from auralink.llm.factories.langchain import chat_model
from auralink.llm.registry import ModelRetired, resolve_model
from tests.support.handlers import api_as_users

# Withdrawn by Anthropic and gone from the dataset: retired by the curated file.
WITHDRAWN = "anthropic/claude-3-haiku-20240307"
WITHDRAWN_SUCCESSOR = "anthropic/claude-haiku-4-5-20251001"
SUCCESSOR = "openai/gpt-5.4"
MESSAGES = [{"role": "user", "content": "hi"}]

Api = Callable[..., tuple[int, Any]]


@pytest.fixture
def api(credentials_key: pytest.MonkeyPatch, token_for: Callable[[str], str]) -> Api:
    return api_as_users(token_for)


@pytest.fixture
def dated(owner_conn) -> Iterator[Callable[[int], str]]:
    """dated(days) -> the id of a new OpenAI model whose shutdown date is today + days."""
    names: list[str] = []

    def make(days: int) -> str:
        name = f"dated-{uuid4().hex[:8]}"
        owner_conn.execute(
            "INSERT INTO llm_models (provider_id, name, display_name, context_window,"
            " input_price_per_mtok, output_price_per_mtok, supports_tools, capabilities, retires_on,"
            " successor) SELECT id, %s, 'Dated', 128000, 1, 2, true, '{chat,tools}',"
            " (now() AT TIME ZONE 'UTC')::date + %s, %s FROM llm_providers WHERE name = 'openai'",
            (name, days, SUCCESSOR),
        )
        names.append(name)
        return f"openai/{name}"

    yield make
    for name in names:
        owner_conn.execute("DELETE FROM llm_models WHERE name = %s", (name,))


def _refusal(answer: dict[str, Any], model_id: str, successor: str) -> dict[str, Any]:
    error = answer["error"]
    assert error["code"] == "model_retired", error
    assert model_id in error["message"] and f"use {successor} instead" in error["message"]
    return error


def test_the_models_list_has_no_retired_model(api, dated):
    past, today, coming = dated(-1), dated(0), dated(30)

    status, body = api("LlmModelsFunction", "reader", query={"provider": "openai"})
    _, anthropic = api("LlmModelsFunction", "reader", query={"provider": "anthropic"})

    assert status == 200
    listed = {model["id"]: model for model in body["models"]}
    assert past not in listed and today not in listed
    assert WITHDRAWN not in {model["id"] for model in anthropic["models"]}
    # One that retires later is listed with its date and what to move to.
    assert listed[coming]["retires_on"] is not None and listed[coming]["successor"] == SUCCESSOR


def test_the_providers_count_no_retired_model(api, dated):
    _, before = api("LlmProvidersFunction", "reader")
    dated(-1)
    coming = dated(1)

    _, after = api("LlmProvidersFunction", "reader")

    count = {provider["name"]: provider["model_count"] for provider in before["providers"]}
    assert {p["name"]: p["model_count"] for p in after["providers"]} == {
        **count,
        "openai": count["openai"] + 1,
    }
    assert resolve_model(coming).id == coming


def test_a_chat_with_a_withdrawn_model_is_refused_naming_its_successor(api):
    status, answer = api("LlmChatFunction", "alice", body={"model": WITHDRAWN, "messages": MESSAGES})

    assert status == 422
    error = _refusal(answer, WITHDRAWN, WITHDRAWN_SUCCESSOR)
    assert error["details"] == [
        {"message": error["message"], "model": WITHDRAWN, "successor": WITHDRAWN_SUCCESSOR}
    ]


def test_a_model_past_its_shutdown_date_is_refused_with_the_date(api, dated):
    model_id = dated(-1)

    status, answer = api("LlmChatFunction", "alice", body={"model": model_id, "messages": MESSAGES})

    assert status == 422
    assert " was retired on " in _refusal(answer, model_id, SUCCESSOR)["message"]


def test_a_default_model_cannot_be_set_to_a_retired_one(api, make_user_id):
    status, answer = api("LlmPutPreferencesFunction", make_user_id(), body={"default_model": WITHDRAWN})

    assert status == 422
    error = _refusal(answer, WITHDRAWN, WITHDRAWN_SUCCESSOR)
    assert error["details"][0]["field"] == "default_model"
    assert error["details"][0]["successor"] == WITHDRAWN_SUCCESSOR


def test_a_stored_default_that_retired_since_is_a_clear_error_not_a_failure(
    api, make_user_id, owner_conn, dated
):
    user = make_user_id()
    model_id = dated(10)
    assert api("LlmPutPreferencesFunction", user, body={"default_model": model_id})[0] == 200
    # The day comes.
    owner_conn.execute(
        "UPDATE llm_models SET retires_on = (now() AT TIME ZONE 'UTC')::date WHERE name = %s",
        (model_id.split("/", 1)[1],),
    )

    chat_status, answer = api("LlmChatFunction", user, body={"messages": MESSAGES})
    read_status, preferences = api("LlmGetPreferencesFunction", user)

    assert chat_status == 422
    _refusal(answer, model_id, SUCCESSOR)
    assert (read_status, preferences["default_model"]) == (200, model_id)
    with pytest.raises(ModelRetired) as raised:
        chat_model(user)
    assert raised.value.successor == SUCCESSOR


def test_the_agent_frameworks_model_clients_refuse_a_retired_model(credentials_key, make_user_id):
    user = make_user_id()

    for make in (chat_model, model_client):
        with pytest.raises(DomainError) as raised:
            make(user, WITHDRAWN)

        assert (raised.value.code, getattr(raised.value, "successor", None)) == (
            "model_retired",
            WITHDRAWN_SUCCESSOR,
        )


def test_a_workflow_naming_a_retired_model_is_refused_at_that_node(api, make_user_id):
    definition = {
        "entry": "greet",
        "nodes": [{"id": "greet", "kind": "llm", "prompt": "Say hello", "model": WITHDRAWN}],
        "edges": [{"from": "greet", "to": "END"}],
    }

    status, answer = api(
        "CreateWorkflowFunction", make_user_id(), body={"name": "g", "definition": definition}
    )

    assert status == 422
    (detail,) = answer["error"]["details"]
    assert detail["field"] == "body.definition.nodes[0].model"
    assert f"use {WITHDRAWN_SUCCESSOR} instead" in detail["message"]


def test_a_team_member_or_manager_naming_a_retired_model_is_refused(api, make_user_id):
    body = {
        "team_name": "writers",
        "collaboration_mode": "hierarchical",
        "manager_model": WITHDRAWN,
        "members": [
            {
                "name": "writer",
                "role": "Writer",
                "goal": "Write",
                "backstory": "A journalist",
                "model": WITHDRAWN,
            }
        ],
    }

    status, answer = api("CreateTeamFunction", make_user_id(), body=body)

    assert status == 422
    details = {detail["field"]: detail["message"] for detail in answer["error"]["details"]}
    assert set(details) >= {"body.manager_model", "body.members[0].model"}
    assert all(f"use {WITHDRAWN_SUCCESSOR} instead" in details[field] for field in details)
