from pathlib import Path

import pytest

from auralink import config
from auralink.config import load_config, parse_config, substitute
from auralink.errors import ConfigurationError
from auralink.settings import reset_settings

REPO_CONFIG = Path(__file__).resolve().parents[3] / "shared" / "configs" / "mcp-config.yaml"

MINIMAL = """
version: 1
servers:
  remote:
    display_name: Remote
    endpoint: ${REMOTE_URL:-https://mcp.example.com/mcp}
    enabled: ${REMOTE_ENABLED:-true}
environments:
  development:
    defaults:
      timeout_seconds: 3
"""


def test_the_shipped_config_is_valid_in_both_environments():
    for environment in ("development", "production"):
        loaded = load_config(REPO_CONFIG, environment=environment, environ={})
        assert {"deepwiki", "memory", "sequential-thinking", "supabase"} <= set(loaded.servers)
        assert loaded.servers["memory"].hosted and loaded.servers["memory"].path == "/mcp/memory"
        assert str(loaded.servers["deepwiki"].endpoint) == "https://mcp.deepwiki.com/mcp"


def test_substitution_uses_the_variable_then_the_default():
    assert substitute("${A}/x", path="k", environ={"A": "a"}) == "a/x"
    assert substitute("${A:-dflt}", path="k", environ={}) == "dflt"
    assert substitute("${A:-dflt}", path="k", environ={"A": ""}) == "dflt"
    assert substitute("${A:-}", path="k", environ={}) == ""
    assert substitute("no variables", path="k", environ={}) == "no variables"


def test_a_missing_required_variable_names_the_key_and_the_variable():
    text = "version: 1\nservers:\n  s:\n    display_name: S\n    endpoint: ${S_URL}\n"
    with pytest.raises(ConfigurationError) as caught:
        parse_config(text, environment="production", environ={})
    assert "servers.s.endpoint" in caught.value.message
    assert "S_URL" in caught.value.message


def test_variables_are_coerced_to_the_declared_types():
    loaded = parse_config(MINIMAL, environment="production", environ={"REMOTE_ENABLED": "false"})
    assert loaded.servers["remote"].enabled is False


def test_the_environment_section_overrides_the_base():
    assert parse_config(MINIMAL, environment="development", environ={}).defaults.timeout_seconds == 3
    assert parse_config(MINIMAL, environment="production", environ={}).defaults.timeout_seconds == 20


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("version: 1\nservers:\n  s:\n    display_name: S\n    endpoint: not a url\n", "servers.s.endpoint"),
        (
            "version: 1\ndefaults:\n  retries:\n    max_attempts: 0\nservers:\n  s:\n    display_name: S\n"
            "    endpoint: https://x.example\n",
            "defaults.retries.max_attempts",
        ),
        (
            "version: 1\nservers:\n  s:\n    display_name: S\n    endpoint: https://x.example\n"
            "    colour: red\n",
            "servers.s.colour",
        ),
        ("version: 1\nservers:\n  s:\n    display_name: S\n", "servers.s"),
        ("version: 1\nservers:\n  s:\n    display_name: S\n    hosted: true\n", "servers.s"),
        (
            "version: 1\nservers:\n  s:\n    display_name: S\n    endpoint: https://x.example\n"
            "    auth:\n      kind: header\n",
            "servers.s.auth",
        ),
    ],
)
def test_validation_errors_name_the_key_path(text, path):
    with pytest.raises(ConfigurationError) as caught:
        parse_config(text, environment="production", environ={})
    assert caught.value.message.startswith(f"mcp-config: {path}")


def test_unknown_environment_sections_and_bad_yaml_are_rejected():
    with pytest.raises(ConfigurationError, match="unknown environment staging"):
        parse_config(MINIMAL + "  staging: {}\n", environment="production", environ={})
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        parse_config("servers: [", environment="production", environ={})


@pytest.fixture
def configured(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("AUTH_ISSUER", "https://issuer.example")
    monkeypatch.setenv("AUTH_AUDIENCE", "auralink-api")
    monkeypatch.setenv("AUTH_ALGORITHMS", "HS256")
    monkeypatch.setenv("AUTH_JWT_SECRET_ID", "jwt")
    monkeypatch.setenv("MCP_CONFIG_PATH", str(REPO_CONFIG))
    monkeypatch.setenv("PUBLIC_API_URL", "http://127.0.0.1:3000")
    monkeypatch.setenv("SUPABASE_MCP_ENABLED", "false")
    reset_settings()
    config.reset_mcp_config()
    yield
    reset_settings()
    config.reset_mcp_config()


def test_accessors(configured, monkeypatch):
    assert config.endpoint("deepwiki") == "https://mcp.deepwiki.com/mcp"
    assert config.endpoint("memory") == "http://127.0.0.1:3000/mcp/memory"
    assert config.is_enabled("deepwiki") and not config.is_enabled("supabase")
    assert config.api_key("deepwiki") is None
    limits = config.limits_for("deepwiki")
    assert limits.timeout_seconds == 25  # the server's override
    assert limits.retries.max_attempts == 3  # the default
    with pytest.raises(Exception) as caught:
        config.server("nope")
    assert getattr(caught.value, "code", None) == "mcp_server_not_found"


def test_an_inline_api_key_comes_from_the_environment(configured, tmp_path, monkeypatch):
    path = tmp_path / "mcp.yaml"
    path.write_text(
        "version: 1\nservers:\n  s:\n    display_name: S\n    endpoint: https://x.example\n"
        "    auth:\n      kind: bearer\n      api_key: ${S_KEY}\n"
    )
    monkeypatch.setenv("MCP_CONFIG_PATH", str(path))
    monkeypatch.setenv("S_KEY", "sk-123")
    reset_settings()
    config.reset_mcp_config()
    key = config.api_key("s")
    assert key is not None and key.get_secret_value() == "sk-123"
    assert "sk-123" not in repr(config.server("s"))


def test_hosted_endpoint_needs_the_public_url(configured, monkeypatch):
    monkeypatch.delenv("PUBLIC_API_URL")
    reset_settings()
    with pytest.raises(ConfigurationError, match="PUBLIC_API_URL"):
        config.endpoint("memory")
