"""The environment a function of the service sees, for tests that run library code directly."""

from __future__ import annotations

import atexit
import functools
import logging

import pytest
from moto.server import ThreadedMotoServer

from auralink import auth, config, crypto, secrets
from auralink.agents.runs import orchestrator
from auralink.db import reset_connection
from auralink.settings import reset_settings

# Well-formed settings that touch nothing: the database URL is never connected to unless a
# test points it at the session database.
SERVICE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "ENVIRONMENT": "development",
    "DATABASE_URL": "postgresql://unused@127.0.0.1/unused",
    "AUTH_ISSUER": "https://issuer.test",
    "AUTH_AUDIENCE": "auralink-test",
    "AUTH_ALGORITHMS": "HS256",
    "AUTH_JWT_SECRET_ID": "test/jwt",
    "POWERTOOLS_METRICS_NAMESPACE": "AuraLink",
    # The tests' servers live on loopback; tests of the refusal unset it.
    "ALLOW_LOOPBACK_ENDPOINTS": "true",
}
# Variables of the developer's shell that would change what the code under test talks to.
UNSET = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "SECRETS_MAX_AGE_S",
    "AUTH_JWKS_URL",
    "DATABASE_SECRET_ID",
    "DATABASE_OWNER_URL",
    "DATABASE_OWNER_SECRET_ID",
    "CREDENTIALS_KEY_SECRET_ID",
    "CORS_ALLOW_ORIGINS",
    "MAX_BODY_BYTES",
    "MCP_CONFIG_PATH",
    "DEEPWIKI_MCP_URL",
    "DEEPWIKI_MCP_API_KEY",
    "SUPABASE_MCP_API_KEY",
    "PUBLIC_API_URL",
    "RUN_STATE_MACHINE_ARN",
    "WEB_SEARCH_PROVIDER",
    "WEB_SEARCH_URL",
    "PREFECT_API_URL",
    "PREFECT_API_SECRET_ID",
    "PIPELINE_RESULTS_BUCKET",
    "PIPELINE_RESULTS_PREFIX",
    "AWS_ENDPOINT_URL_S3",
)


# The variable that points the service's Secrets Manager reads (`auralink.aws_json`) elsewhere.
SECRETS_MANAGER_ENDPOINT = "AWS_ENDPOINT_URL_SECRETS_MANAGER"


@functools.cache
def secrets_manager_endpoint() -> str:
    """moto's server on loopback, for this process: the service reads secrets over HTTP, which
    `mock_aws` (it intercepts botocore) does not see. The server shares moto's state with
    `mock_aws`, so a secret created through `mock_aws` is read from it. A test process that runs
    the service in a process of its own points that process here, or at a server of its own."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    atexit.register(server.stop)
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def forget_caches() -> None:
    """Drop everything a container caches, so that the next read sees the current environment."""
    reset_settings()
    reset_connection()
    secrets.reset_caches()
    auth.reset_caches()
    crypto.reset_caches()
    config.reset_mcp_config()
    orchestrator.reset_clients()


def apply(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**SERVICE_ENVIRONMENT, **overrides}.items():
        monkeypatch.setenv(name, value)
    forget_caches()
