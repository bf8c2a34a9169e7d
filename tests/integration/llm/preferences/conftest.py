"""Preferences with bring-your-own keys: the service's environment with a credential key secret."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from auralink.settings import Settings
from tests.integration.llm.registry.conftest import Api, call_api
from tests.support import environment

SERVICE_KEYS_SECRET_ID = "auralink/test/llm-service-keys"
SERVICE_OPENAI_KEY = "sk-service-openai-0000000000000000SERV"
SERVICE_ANTHROPIC_KEY = "sk-ant-service-000000000000000000SERV"
OPENAI_KEY = "sk-proj-Zq8vT3kLmN5pR7wX9yB2cD4fG6hJ1aBcD"
ANTHROPIC_KEY = "sk-ant-api03-Hk2mP9qR4sT6uV8wX0yZ1aB3cD5eF7gHwxyz"


@pytest.fixture
def llm(credentials_key: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The service's environment (moto's Secrets Manager) with the credential encryption key."""
    yield credentials_key


@pytest.fixture
def service_keys(llm: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The deployment's own provider keys in Secrets Manager, named by LLM_SERVICE_KEYS_SECRET_ID."""
    boto3.client("secretsmanager").create_secret(
        Name=SERVICE_KEYS_SECRET_ID,
        SecretString=json.dumps({"openai": SERVICE_OPENAI_KEY, "anthropic": SERVICE_ANTHROPIC_KEY}),
    )
    llm.setenv("LLM_SERVICE_KEYS_SECRET_ID", SERVICE_KEYS_SECRET_ID)
    if "llm_service_keys_secret_id" not in Settings.model_fields:
        # Until the settings declare the variable, make it visible the way the field will.
        llm.setattr(Settings, "llm_service_keys_secret_id", SERVICE_KEYS_SECRET_ID, raising=False)
    environment.forget_caches()
    return llm


@pytest.fixture
def api(llm: pytest.MonkeyPatch, token_for: Callable[..., str]) -> Api:
    """api("LlmPutPreferencesFunction", "alice", body={...}) -> (status, body)."""

    def call(function_id: str, user: str | None, **kwargs: Any) -> tuple[int, Any]:
        return call_api(function_id, None if user is None else token_for(user), **kwargs)

    return call


@pytest.fixture
def put(api: Api) -> Callable[..., tuple[int, Any]]:
    def call(user: str, body: Any) -> tuple[int, Any]:
        return api("LlmPutPreferencesFunction", user, body=body)

    return call


@pytest.fixture
def get(api: Api) -> Callable[[str], Any]:
    def call(user: str) -> Any:
        status, body = api("LlmGetPreferencesFunction", user)
        assert status == 200, body
        return body

    return call
