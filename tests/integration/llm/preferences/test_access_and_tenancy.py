"""Key resolution for the chat gateway, and one user's preferences invisible to another."""

from __future__ import annotations

import pytest
from psycopg.types.json import Jsonb

from auralink.errors import DecryptionError, ValidationFailed
from auralink.llm import gateway, preferences
from auralink.llm.preferences import resolve_access
from tests.integration.llm.preferences.conftest import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    SERVICE_ANTHROPIC_KEY,
    SERVICE_OPENAI_KEY,
)

LOCAL = "http://127.0.0.1:11434/v1"


def _providers_as_owner(owner_conn, user):
    with owner_conn.transaction():
        owner_conn.execute("SELECT set_config('app.current_user_id', %s, true)", (user,))
        return owner_conn.execute("SELECT user_id, providers FROM user_llm_preferences").fetchall()


def test_the_users_own_key_and_base_url(put, make_user_id):
    user = make_user_id()
    put(user, {"providers": {"openai": {"api_key": OPENAI_KEY, "base_url": LOCAL}}})

    access = resolve_access(user, "openai")

    assert access.api_key is not None and access.api_key.get_secret_value() == OPENAI_KEY
    assert access.base_url == LOCAL
    assert OPENAI_KEY not in repr(access) and OPENAI_KEY not in str(access)


def test_the_users_key_wins_over_the_service_key(service_keys, put, make_user_id):
    user = make_user_id()
    put(user, {"providers": {"anthropic": {"api_key": ANTHROPIC_KEY}}})

    access = resolve_access(user, "anthropic")

    assert access.api_key is not None and access.api_key.get_secret_value() == ANTHROPIC_KEY
    assert access.base_url is None


def test_without_a_key_of_their_own_users_get_the_service_key(service_keys, make_user_id):
    access = resolve_access(make_user_id(), "openai")

    assert access.api_key is not None and access.api_key.get_secret_value() == SERVICE_OPENAI_KEY
    assert access.base_url is None
    assert resolve_access(make_user_id(), "anthropic").api_key.get_secret_value() == SERVICE_ANTHROPIC_KEY


def test_the_service_key_never_goes_to_a_users_endpoint(service_keys, put, make_user_id):
    user = make_user_id()
    put(user, {"providers": {"openai": {"base_url": LOCAL}}})

    access = resolve_access(user, "openai")

    assert (access.api_key, access.base_url) == (None, LOCAL)


def test_no_key_anywhere_is_llm_key_missing_naming_the_provider(llm, make_user_id):
    with pytest.raises(ValidationFailed) as caught:
        resolve_access(make_user_id(), "anthropic")

    assert caught.value.code == "llm_key_missing"
    assert "anthropic" in caught.value.message
    assert caught.value.details[0]["field"] == "providers.anthropic.api_key"


def test_a_service_secret_without_that_provider_is_llm_key_missing(service_keys, make_user_id):
    with pytest.raises(ValidationFailed) as caught:
        resolve_access(make_user_id(), "google")

    assert caught.value.code == "llm_key_missing"


def test_a_removed_key_is_no_longer_used(llm, put, make_user_id):
    user = make_user_id()
    put(user, {"providers": {"openai": {"api_key": OPENAI_KEY}}})
    put(user, {"providers": {"openai": {"api_key": None}}})

    with pytest.raises(ValidationFailed) as caught:
        resolve_access(user, "openai")
    assert caught.value.code == "llm_key_missing"


def test_bedrock_uses_the_deployments_aws_credentials(llm, make_user_id):
    access = resolve_access(make_user_id(), "meta")

    assert (access.api_key, access.base_url) == (None, None)


def test_an_unknown_provider_is_refused(llm, make_user_id):
    with pytest.raises(ValidationFailed) as caught:
        resolve_access(make_user_id(), "mistral")

    assert caught.value.code == "llm_provider_unknown"


def test_another_users_preferences_are_invisible(put, get, make_user_id, owner_conn):
    alice, bob = make_user_id("alice"), make_user_id("bob")
    put(alice, {"default_model": "openai/gpt-5.4", "providers": {"openai": {"api_key": OPENAI_KEY}}})

    assert get(bob) == {"default_model": None, "providers": {}, "updated_at": None}
    with pytest.raises(ValidationFailed):
        resolve_access(bob, "openai")

    put(bob, {"default_model": "google/gemini-2.5-flash-lite", "providers": {"openai": {"base_url": LOCAL}}})
    assert get(alice)["default_model"] == "openai/gpt-5.4"
    assert get(alice)["providers"]["openai"] == {
        "has_api_key": True,
        "api_key_hint": "sk-...aBcD",
        "base_url": None,
    }
    assert [row["user_id"] for row in _providers_as_owner(owner_conn, bob)] == [bob]


def test_a_sealed_key_moved_to_another_user_or_provider_does_not_open(put, make_user_id, owner_conn):
    alice, mallory = make_user_id("alice"), make_user_id("mallory")
    put(alice, {"providers": {"openai": {"api_key": OPENAI_KEY}}})
    put(mallory, {"providers": {"openai": {"base_url": LOCAL}}})
    (row,) = _providers_as_owner(owner_conn, alice)
    sealed = row["providers"]["openai"]

    with owner_conn.transaction():
        owner_conn.execute("SELECT set_config('app.current_user_id', %s, true)", (mallory,))
        owner_conn.execute("UPDATE user_llm_preferences SET providers = %s", (Jsonb({"openai": sealed}),))
    with pytest.raises(DecryptionError):
        resolve_access(mallory, "openai")

    with owner_conn.transaction():
        owner_conn.execute("SELECT set_config('app.current_user_id', %s, true)", (alice,))
        owner_conn.execute("UPDATE user_llm_preferences SET providers = %s", (Jsonb({"anthropic": sealed}),))
    with pytest.raises(DecryptionError):
        resolve_access(alice, "anthropic")


def test_models_for_looks_up_the_default_and_each_model_once(put, make_user_id, monkeypatch):
    user = make_user_id()
    status, body = put(user, {"default_model": "openai/gpt-5.4-mini"})
    assert status == 200, body
    lookups: list[str] = []
    resolve = preferences.resolve_model
    monkeypatch.setattr(
        preferences, "resolve_model", lambda who, model: lookups.append(model) or resolve(who, model)
    )

    found = gateway.models_for(user, [None, "openai/gpt-5.4", None, "openai/gpt-5.4-mini"])

    assert {name: entry.id for name, entry in found.items()} == {
        None: "openai/gpt-5.4-mini",
        "openai/gpt-5.4": "openai/gpt-5.4",
        "openai/gpt-5.4-mini": "openai/gpt-5.4-mini",
    }
    assert sorted(lookups) == ["openai/gpt-5.4", "openai/gpt-5.4-mini"]


def test_models_for_without_a_default_names_what_is_missing(api, make_user_id):
    user = make_user_id()

    assert gateway.models_for(user, ["openai/gpt-5.4"])["openai/gpt-5.4"].name == "gpt-5.4"
    with pytest.raises(ValidationFailed) as refused:
        gateway.models_for(user, ["openai/gpt-5.4", None])
    assert refused.value.code == "model_required"
