"""A workflow run on the service's key whose model calls pass the user's daily LLM budget: the
call over quota fails with the quota's error, which the run's error shows; the run does not crash."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import pytest

from auralink.auth import Identity
from auralink.db import tenant_transaction
from auralink.llm.api_models import PreferencesUpdate
from auralink.llm.preferences import put_preferences
from auralink.llm.providers import openai as openai_provider
from tests.fakes.openai_server import LlmServer, Text
from tests.integration.agents.langgraph.conftest import KEY, MODEL, run_to_end
from tests.support import environment
from tests.support.runs import read_run

SERVICE_KEYS_SECRET_ID = "auralink/test/llm-service-keys-runs"
TWO_CALLS = {
    "entry": "draft",
    "nodes": [
        {"id": "draft", "kind": "llm", "prompt": "Draft: {input.topic}"},
        {"id": "polish", "kind": "llm", "prompt": "Polish: {outputs.draft}"},
    ],
    "edges": [{"from": "draft", "to": "polish"}, {"from": "polish", "to": "END"}],
}


@pytest.fixture
def service_key_user(
    executor, tools_env: pytest.MonkeyPatch, model: LlmServer, make_user_id: Callable[[], str]
) -> str:
    """A user with no key of their own: the service's key (reaching the loopback model) pays."""
    boto3.client("secretsmanager").create_secret(
        Name=SERVICE_KEYS_SECRET_ID, SecretString=json.dumps({"openai": KEY})
    )
    tools_env.setenv("LLM_SERVICE_KEYS_SECRET_ID", SERVICE_KEYS_SECRET_ID)
    tools_env.setenv("QUOTA_LLM_TOKENS_PER_DAY", "500")
    # A call that sets no max_tokens reserves the cap of any call: small here, as the budget is.
    tools_env.setenv("LLM_MAX_TOKENS", "100")
    tools_env.setattr(openai_provider, "DEFAULT_BASE_URL", model.base_url + "/v1")
    environment.forget_caches()
    user_id = make_user_id()
    put_preferences(Identity(sub=user_id), PreferencesUpdate.model_validate({"default_model": MODEL}))
    return user_id


def test_a_run_whose_model_call_is_over_quota_fails_with_the_quota_error(service_key_user, start, model):
    model.script.then(Text("A long draft.", input_tokens=300, output_tokens=200), Text("Polished."))
    run_id = start(service_key_user, TWO_CALLS, {"topic": "quotas"})

    assert run_to_end(run_id, service_key_user) == ["failed"]

    run = read_run(service_key_user, run_id)
    assert run["error"]["code"] == "quota_exceeded"
    assert "500 tokens" in run["error"]["message"]
    assert run["output"] is None
    assert len(model.script.received) == 1  # the second call never went out
    with tenant_transaction(service_key_user) as conn:
        calls = conn.execute(
            "SELECT status, error_code FROM llm_performance_metrics WHERE run_id = %s ORDER BY created_at",
            (run_id,),
        ).fetchall()
        refusals = conn.execute("SELECT quota FROM quota_refusals").fetchall()
    assert [(call["status"], call["error_code"]) for call in calls] == [
        ("success", None),
        ("error", "quota_exceeded"),
    ]
    assert refusals == [{"quota": "llm_tokens_per_day"}]
