import pytest

from auralink.errors import ConfigurationError
from auralink.settings import get_settings, reset_settings

BASE = {
    "ENVIRONMENT": "development",
    "DATABASE_URL": "postgresql://app:s3cret@db/auralink",
    "AUTH_ISSUER": "https://issuer.example",
    "AUTH_AUDIENCE": "auralink-api",
    "AUTH_ALGORITHMS": "HS256",
    "AUTH_JWT_SECRET_ID": "jwt",
}
PREFECT = ("PREFECT_API_URL", "PREFECT_API_SECRET_ID")
MCP_OAUTH = ("MCP_OAUTH_SCOPES", "MCP_OAUTH_CLIENT_IDS", "PUBLIC_API_URL")
CAPS = ("MAX_CONNECTIONS_PER_USER", "MAX_TOOL_RESULT_BYTES", "MAX_RENDERED_TEMPLATE_CHARS", "LLM_MAX_TOKENS")


@pytest.fixture
def env(monkeypatch):
    unset = (
        "DATABASE_SECRET_ID",
        "AUTH_JWKS_URL",
        "CORS_ALLOW_ORIGINS",
        "MAX_BODY_BYTES",
        *PREFECT,
        *MCP_OAUTH,
    )
    for key in (*BASE, *CAPS, *unset):
        monkeypatch.delenv(key, raising=False)
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    yield monkeypatch
    reset_settings()


def test_reads_and_parses_the_environment(env):
    env.setenv("CORS_ALLOW_ORIGINS", "http://a.example, http://b.example")
    settings = get_settings()
    assert settings.auth_algorithms == ["HS256"]
    assert settings.cors_allow_origins == ["http://a.example", "http://b.example"]
    assert not settings.is_production
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"AUTH_ISSUER": None}, "AUTH_ISSUER"),
        ({"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES"),
        ({"AUTH_ALGORITHMS": "HS512"}, "AUTH_ALGORITHMS"),
        ({"ENVIRONMENT": "staging"}, "ENVIRONMENT"),
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"AUTH_JWT_SECRET_ID": None}, "AUTH_JWT_SECRET_ID"),
        ({"AUTH_ALGORITHMS": "RS256"}, "AUTH_JWKS_URL"),
        ({"PREFECT_API_URL": "127.0.0.1:4200/api"}, "PREFECT_API_URL"),
        ({"PREFECT_API_URL": "http://127.0.0.1:4200/api", "PREFECT_API_SECRET_ID": "p"}, "exclusive"),
        ({"PIPELINE_RESULTS_BUCKET": "Results_Bucket"}, "PIPELINE_RESULTS_BUCKET"),
        ({"PIPELINE_RESULTS_PREFIX": "/results/"}, "PIPELINE_RESULTS_PREFIX"),
        ({"ENVIRONMENT": "production"}, "HS256"),
        (
            {
                "ENVIRONMENT": "production",
                "AUTH_ALGORITHMS": "RS256",
                "AUTH_JWKS_URL": "https://i/jwks",
                "CORS_ALLOW_ORIGINS": "*",
            },
            "CORS_ALLOW_ORIGINS",
        ),
        (
            {"ENVIRONMENT": "production", "AUTH_ALGORITHMS": "RS256", "AUTH_JWKS_URL": "http://i/jwks"},
            "https",
        ),
    ],
)
def test_a_bad_environment_fails_naming_the_variable(env, changes, named):
    for key, value in changes.items():
        if value is None:
            env.delenv(key)
        else:
            env.setenv(key, value)
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    assert named in caught.value.message
    assert "s3cret" not in caught.value.message


def test_loopback_endpoints_are_off_unless_set_whatever_the_environment(env):
    env.delenv("ALLOW_LOOPBACK_ENDPOINTS", raising=False)
    assert get_settings().allow_loopback_endpoints is False  # development, and still off

    env.setenv("ALLOW_LOOPBACK_ENDPOINTS", "true")
    reset_settings()
    assert get_settings().allow_loopback_endpoints is True


def test_production_refuses_loopback_endpoints(env):
    env.setenv("ENVIRONMENT", "production")
    env.setenv("AUTH_ALGORITHMS", "RS256")
    env.setenv("AUTH_JWKS_URL", "https://issuer.example/jwks")
    env.setenv("ALLOW_LOOPBACK_ENDPOINTS", "true")

    with pytest.raises(ConfigurationError, match="ALLOW_LOOPBACK_ENDPOINTS"):
        get_settings()


def test_the_caps_defaults(env):
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


def test_the_mcp_endpoints_oauth_settings_are_parsed(env):
    env.setenv("MCP_OAUTH_SCOPES", "openid, https://api.example.com/mcp, openid")
    env.setenv("MCP_OAUTH_CLIENT_IDS", "1example23456789abcdefghij,vscode")
    env.setenv("PUBLIC_API_URL", "https://api.example.com/")
    settings = get_settings()
    assert settings.mcp_oauth_scopes == ["openid", "https://api.example.com/mcp"]
    assert settings.mcp_oauth_client_ids == ["1example23456789abcdefghij", "vscode"]
    assert settings.public_api_url == "https://api.example.com"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MCP_OAUTH_SCOPES", 'openid,"quoted"'),
        ("MCP_OAUTH_SCOPES", "back\\slash"),
        ("MCP_OAUTH_SCOPES", ""),
        ("MCP_OAUTH_CLIENT_IDS", "client id with spaces"),
        ("PUBLIC_API_URL", "https://api.example.com/?query"),
        ("PUBLIC_API_URL", "api.example.com"),
        ("MCP_OAUTH_RETURN_URL", "app.example.com/connected"),
    ],
)
def test_malformed_mcp_oauth_settings_fail_naming_the_variable(env, name, value):
    env.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        get_settings()


def test_production_wants_an_https_public_url(env):
    env.setenv("ENVIRONMENT", "production")
    env.setenv("AUTH_ALGORITHMS", "RS256")
    env.setenv("AUTH_JWKS_URL", "https://issuer.example/jwks")
    env.setenv("PUBLIC_API_URL", "http://api.example.com")
    with pytest.raises(ConfigurationError, match="PUBLIC_API_URL must be https"):
        get_settings()


def test_production_wants_an_https_return_url_after_mcp_sign_ins(env):
    env.setenv("ENVIRONMENT", "production")
    env.setenv("AUTH_ALGORITHMS", "RS256")
    env.setenv("AUTH_JWKS_URL", "https://issuer.example/jwks")
    env.setenv("MCP_OAUTH_RETURN_URL", "http://app.example.com/connected")
    with pytest.raises(ConfigurationError, match="MCP_OAUTH_RETURN_URL must be https"):
        get_settings()
