"""The environment a function of the service sees, for tests that run library code directly."""

from __future__ import annotations

import atexit
import functools
import logging
import os

import pytest
from moto.server import ThreadedMotoServer

from auralink import auth, aws_json, config, crypto, secrets
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


# The variables that point the service's calls to AWS (`auralink.aws_json`) elsewhere.
AWS_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SFN")


@functools.cache
def moto_endpoint() -> str:
    """moto's server on loopback, for this process: the service calls Secrets Manager and Step
    Functions over HTTP, which `mock_aws` (it intercepts botocore) does not see. The server shares
    moto's state with `mock_aws`, so what a test creates through `mock_aws` is what the service
    finds."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    atexit.register(server.stop)
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def point_at_moto() -> None:
    """Point this process's calls to AWS at `moto_endpoint` (a test process that runs the service
    in a process of its own gives it a server of its own this way)."""
    for variable in AWS_ENDPOINT_VARIABLES:
        os.environ[variable] = moto_endpoint()


def forget_caches() -> None:
    """Drop everything a container caches, so that the next read sees the current environment."""
    reset_settings()
    reset_connection()
    secrets.reset_caches()
    auth.reset_caches()
    crypto.reset_caches()
    config.reset_mcp_config()
    aws_json.forget_credentials()


def apply(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**SERVICE_ENVIRONMENT, **overrides}.items():
        monkeypatch.setenv(name, value)
    forget_caches()
