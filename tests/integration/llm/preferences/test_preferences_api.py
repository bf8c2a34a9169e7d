"""GET / PUT /api/v1/llm/preferences: default model and bring-your-own keys, sealed and masked."""

from __future__ import annotations

import json

import pytest

from auralink.auth import Identity
from auralink.errors import ValidationFailed
from auralink.llm.api_models import PreferencesUpdate
from auralink.llm.preferences import key_hint, put_preferences
from tests.integration.llm.preferences.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.support.environment import forget_caches

LOCAL = "http://127.0.0.1:11434/v1"


def _row(owner_conn, user):
    with owner_conn.transaction():
        owner_conn.execute("SELECT set_config('app.current_user_id', %s, true)", (user,))
        return owner_conn.execute("SELECT id, default_model, providers FROM user_llm_preferences").fetchone()


def test_nothing_stored_yet(get, make_user_id):
    assert get(make_user_id()) == {"default_model": None, "providers": {}, "updated_at": None}


def test_round_trip_with_masked_keys(put, get, make_user_id):
    user = make_user_id()
    body = {
        "default_model": "anthropic/claude-haiku-4-5-20251001",
        "providers": {"openai": {"api_key": OPENAI_KEY}, "anthropic": {"api_key": ANTHROPIC_KEY}},
    }

    status, saved = put(user, body)

    assert status == 200, saved
    assert saved["default_model"] == "anthropic/claude-haiku-4-5-20251001"
    assert saved["providers"] == {
        "anthropic": {"has_api_key": True, "api_key_hint": "sk-...wxyz", "base_url": None},
        "openai": {"has_api_key": True, "api_key_hint": "sk-...aBcD", "base_url": None},
    }
    assert saved["updated_at"]
    assert get(user) == saved


def test_keys_are_sealed_in_the_database(put, make_user_id, owner_conn):
    user = make_user_id()
    put(user, {"providers": {"openai": {"api_key": OPENAI_KEY}}})

    row = _row(owner_conn, user)

    stored = row["providers"]["openai"]
    assert stored["api_key"].startswith("v1.k1.")
    assert OPENAI_KEY not in json.dumps(row["providers"])
    assert OPENAI_KEY[:-4] not in json.dumps(row["providers"])  # nothing but the hint's tail
    assert stored["api_key_hint"] == "sk-...aBcD"


def test_keys_never_appear_in_answers_or_logs(put, get, api, make_user_id, capsys):
    user = make_user_id()
    answers = [
        put(user, {"providers": {"openai": {"api_key": OPENAI_KEY, "base_url": "https://93.184.215.14/v1"}}}),
        (200, get(user)),
        put(
            user, {"providers": {"openai": {"api_key": OPENAI_KEY, "base_url": "http://169.254.169.254/v1"}}}
        ),
        put(user, {"providers": {"google": {"api_key": OPENAI_KEY, "base_url": "https://x.example"}}}),
        put(user, {"providers": {"openai": {"api_key": OPENAI_KEY + " spaced"}}}),
        put(user, {"providers": {"openai": {"api_key": OPENAI_KEY, "extra": OPENAI_KEY}}}),
        put(user, {"providers": {"meta": {"api_key": OPENAI_KEY}}}),
    ]

    assert [status for status, _ in answers] == [200, 200, 422, 422, 422, 422, 422]
    captured = capsys.readouterr()
    for text in (json.dumps(answers), captured.out, captured.err):
        assert OPENAI_KEY not in text
        assert OPENAI_KEY[3:-4] not in text


def test_an_entry_replaces_the_provider_and_omitted_providers_are_kept(put, get, make_user_id):
    user = make_user_id()
    put(
        user,
        {
            "default_model": "openai/gpt-5.4",
            "providers": {
                "openai": {"api_key": OPENAI_KEY, "base_url": "http://127.0.0.1:11434/v1"},
                "anthropic": {"api_key": ANTHROPIC_KEY},
            },
        },
    )

    # No api_key in the entry: the stored key stays (it cannot be read back to be sent again);
    # the base_url is replaced (here: removed).
    status, body = put(user, {"providers": {"openai": {}}})
    assert status == 200, body
    assert body["providers"]["openai"] == {
        "has_api_key": True,
        "api_key_hint": "sk-...aBcD",
        "base_url": None,
    }
    assert body["providers"]["anthropic"]["has_api_key"] is True
    assert body["default_model"] == "openai/gpt-5.4"

    # "api_key": null removes the key; nothing left of the provider: it goes.
    status, body = put(user, {"providers": {"openai": {"api_key": None}}})
    assert status == 200, body
    assert set(body["providers"]) == {"anthropic"}

    # A provider set to null is forgotten; null clears the default model.
    status, body = put(user, {"default_model": None, "providers": {"anthropic": None}})
    assert status == 200, body
    assert (body["default_model"], body["providers"]) == (None, {})
    assert get(user)["providers"] == {}


def test_a_new_key_replaces_the_old(put, make_user_id, owner_conn):
    user = make_user_id()
    put(user, {"providers": {"openai": {"api_key": OPENAI_KEY}}})
    first = _row(owner_conn, user)["providers"]["openai"]["api_key"]

    status, body = put(user, {"providers": {"openai": {"api_key": "sk-rotated-000000000000000000009999"}}})

    assert status == 200
    assert body["providers"]["openai"]["api_key_hint"] == "sk-...9999"
    assert _row(owner_conn, user)["providers"]["openai"]["api_key"] != first


def test_loopback_base_urls_are_fine_in_development(put, make_user_id):
    status, body = put(make_user_id(), {"providers": {"openai": {"base_url": "http://LOCALHOST:11434/v1"}}})

    assert status == 200, body
    assert body["providers"]["openai"] == {
        "has_api_key": False,
        "api_key_hint": None,
        "base_url": "http://localhost:11434/v1",
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.8:8000/v1",
        "https://192.168.1.20/v1",
        "file:///etc/passwd",
        "http://example.com/v1",  # plain http off loopback
        "https://user:pass@example.com/v1",
    ],
)
def test_hostile_base_urls_are_refused(put, make_user_id, url):
    user = make_user_id()

    status, body = put(user, {"providers": {"openai": {"api_key": OPENAI_KEY, "base_url": url}}})

    assert (status, body["error"]["code"]) == (422, "endpoint_not_allowed")
    assert body["error"]["details"][0]["field"] == "providers.openai.base_url"


def test_without_loopback_allowed_only_public_https_base_urls_pass(llm, make_user_id):
    # a development stage, as the deployed dev stack is: loopback still needs the explicit setting
    llm.delenv("ALLOW_LOOPBACK_ENDPOINTS")
    forget_caches()
    user = Identity(sub=make_user_id())

    with pytest.raises(ValidationFailed) as caught:
        put_preferences(
            user, PreferencesUpdate.model_validate({"providers": {"openai": {"base_url": LOCAL}}})
        )

    assert caught.value.code == "endpoint_not_allowed"
    assert caught.value.details[0]["field"] == "providers.openai.base_url"
    public = PreferencesUpdate.model_validate(
        {"providers": {"openai": {"base_url": "https://93.184.215.14/v1"}}}
    )
    assert put_preferences(user, public).providers["openai"].base_url == "https://93.184.215.14/v1"


def test_base_url_is_for_openai_compatible_providers_only(put, make_user_id):
    status, body = put(
        make_user_id(), {"providers": {"anthropic": {"base_url": "https://api.anthropic.com"}}}
    )

    assert (status, body["error"]["code"]) == (422, "base_url_not_supported")
    assert body["error"]["details"][0]["field"] == "providers.anthropic.base_url"


def test_meta_on_bedrock_takes_no_key(put, make_user_id):
    status, body = put(make_user_id(), {"providers": {"meta": {"api_key": "whatever-key"}}})

    assert (status, body["error"]["code"]) == (422, "api_key_not_supported")
    assert body["error"]["details"][0]["field"] == "providers.meta.api_key"


def test_an_unknown_provider_is_named(put, get, make_user_id):
    user = make_user_id()

    status, body = put(
        user, {"providers": {"openai": {"api_key": OPENAI_KEY}, "mistral": {"api_key": "k" * 20}}}
    )

    assert (status, body["error"]["code"]) == (422, "llm_provider_unknown")
    assert body["error"]["details"][0]["field"] == "providers.mistral"
    assert "mistral" in body["error"]["message"]
    assert get(user)["providers"] == {}  # nothing of a refused update is stored


@pytest.mark.parametrize(
    ("model", "code"),
    [("openai/gpt-9", "model_not_found"), ("nobody/gpt-4o", "model_not_found")],
)
def test_the_default_model_must_be_in_the_registry(put, make_user_id, model, code):
    status, body = put(make_user_id(), {"default_model": model})

    assert (status, body["error"]["code"]) == (422, code)
    assert body["error"]["details"][0]["field"] == "default_model"


def test_a_disabled_default_model_is_refused(put, make_user_id, owner_conn):
    owner_conn.execute(
        "INSERT INTO llm_models (provider_id, name, display_name, context_window, input_price_per_mtok,"
        " output_price_per_mtok, enabled) SELECT id, 'prefs-retired', 'Retired', 1000, 1, 1, false"
        " FROM llm_providers WHERE name = 'google' ON CONFLICT DO NOTHING"
    )
    try:
        status, body = put(make_user_id(), {"default_model": "google/prefs-retired"})
    finally:
        owner_conn.execute("DELETE FROM llm_models WHERE name = 'prefs-retired'")

    assert (status, body["error"]["code"]) == (422, "model_disabled")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"default_model": "gpt-4o"}, "body.default_model"),
        ({"providers": {"openai": {"api_key": ""}}}, "body.providers.openai.api_key"),
        ({"providers": {"openai": {"token": "x"}}}, "body.providers.openai.token"),
        ({"providers": {"openai": "sk-plain"}}, "body.providers.openai"),
        ({"colour": "blue"}, "body.colour"),
        ({"providers": {"Open AI": {}}}, "body.providers.Open AI.[key]"),
    ],
)
def test_malformed_bodies_name_the_field(put, make_user_id, body, field):
    status, answer = put(make_user_id(), body)

    assert (status, answer["error"]["code"]) == (422, "validation_failed")
    assert field in [item["field"] for item in answer["error"]["details"]]


def test_without_a_token_401(api):
    assert api("LlmGetPreferencesFunction", None)[0] == 401
    assert api("LlmPutPreferencesFunction", None, body={})[0] == 401


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("sk-proj-Zq8vT3kLmN5pR7wX9yB2cD4fG6hJ1aBcD", "sk-...aBcD"),
        ("AIzaSyD-0123456789abcdefghijklmnopqrstu", "...rstu"),
        ("sk-short-1234", "sk-..."),
        ("abcd", "..."),
    ],
)
def test_the_hint_shows_at_most_the_last_four_characters(key, hint):
    assert key_hint(key) == hint
