"""The HTTP sample events reach their routes when handed to the real handlers.

Nothing behind the handlers is up (the database refuses connections, the token is signed with
some other key), so the answers are errors; what matters is that they come from the route, not
from the resolver's 404 for an event it cannot place.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from auralink import secrets as secret_store
from auralink.settings import reset_settings
from infra.template import functions, load_template
from tests.infra.template_support import ROOT, TEMPLATE_PATH


@dataclass
class _Context:
    function_name: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:auralink-test"
    aws_request_id: str = "0c9a7a62-6f0e-4a9e-9f39-7d1b2f3c4d5e"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "DATABASE_SECRET_ID", "CREDENTIALS_KEY_SECRET_ID"):
        monkeypatch.delenv(name, raising=False)
    variables = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "ENVIRONMENT": "development",
        "DATABASE_URL": f"postgresql://auralink_app@127.0.0.1:{_closed_port()}/auralink",
        "DB_CONNECT_TIMEOUT_S": "1",
        "AUTH_ISSUER": "auralink:auralink-dev",
        "AUTH_AUDIENCE": "auralink-api",
        "AUTH_ALGORITHMS": "HS256",
        "AUTH_JWT_SECRET_ID": "auralink-test-jwt",
        "POWERTOOLS_SERVICE_NAME": "auralink",
        "POWERTOOLS_METRICS_NAMESPACE": "AuraLink",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("secretsmanager").create_secret(
            Name="auralink-test-jwt", SecretString=secrets.token_urlsafe(48)
        )
        reset_settings()
        secret_store.reset_caches()
        yield
    reset_settings()
    secret_store.reset_caches()


def _invoke(function_id: str, event: dict[str, Any]) -> dict[str, Any]:
    spec = next(spec for spec in functions(load_template(TEMPLATE_PATH)) if spec.logical_id == function_id)
    module_name = f"_sample_event_{function_id}"
    location = ROOT / spec.code_uri / spec.module_path
    module_spec = importlib.util.spec_from_file_location(module_name, location)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
        result: dict[str, Any] = getattr(module, spec.handler_name)(event, _Context(function_id))
        return result
    finally:
        sys.modules.pop(module_name, None)


def _event(function_id: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{function_id}.json").read_text(encoding="utf-8"))
    return event


@pytest.mark.usefixtures("environment")
def test_the_health_event_reaches_the_health_check() -> None:
    response = _invoke("HealthFunction", _event("HealthFunction"))

    assert response["statusCode"] == 503
    assert json.loads(response["body"])["status"] != "ok"


@pytest.mark.usefixtures("environment")
def test_the_me_event_reaches_token_verification() -> None:
    response = _invoke("MeFunction", _event("MeFunction"))

    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] == "token_invalid_signature"
