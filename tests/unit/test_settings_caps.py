"""The caps among the settings: their defaults, and a bad value names its variable at cold start."""

import pytest

from auralink.errors import ConfigurationError
from auralink.settings import get_settings, reset_settings

BASE = {
    "ENVIRONMENT": "development",
    "DATABASE_URL": "postgresql://app@db/auralink",
    "AUTH_ISSUER": "https://issuer.example",
    "AUTH_AUDIENCE": "auralink-api",
    "AUTH_ALGORITHMS": "HS256",
    "AUTH_JWT_SECRET_ID": "jwt",
}
CAPS = ("MAX_CONNECTIONS_PER_USER", "MAX_TOOL_RESULT_BYTES", "MAX_RENDERED_TEMPLATE_CHARS", "LLM_MAX_TOKENS")


@pytest.fixture
def env(monkeypatch):
    for key in CAPS:
        monkeypatch.delenv(key, raising=False)
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    yield monkeypatch
    reset_settings()


def test_the_defaults(env):
    settings = get_settings()
    assert settings.max_connections_per_user == 50
    assert settings.max_tool_result_bytes == 65536
    assert settings.max_rendered_template_chars == 1_000_000
    assert settings.llm_max_tokens == 16384


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAX_CONNECTIONS_PER_USER", "0"),
        ("MAX_TOOL_RESULT_BYTES", "10"),
        ("MAX_RENDERED_TEMPLATE_CHARS", "many"),
        ("LLM_MAX_TOKENS", "200001"),
    ],
)
def test_a_cap_out_of_bounds_fails_naming_its_variable(env, variable, value):
    env.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    assert variable in caught.value.message
