"""GET /health and GET /api/v1/me through their real handlers on the real database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import boto3
import pytest

from auralink import config, prefect_api
from auralink.db import reset_connection, tenant_transaction
from auralink.settings import reset_settings
from tests.support import environment
from tests.support.handlers import ROOT, call_http, local_functions, sample_event


@pytest.fixture(autouse=True)
def _service(service):
    return service


def test_health_without_a_token_is_status_version_and_schema_only(owner_conn):
    latest = owner_conn.execute("SELECT max(version) AS version FROM schema_migrations").fetchone()["version"]

    status, body = call_http("HealthFunction", token=None)

    assert status == 200
    assert body == {"status": "ok", "version": body["version"], "schema_version": latest, "details": None}
    assert body["version"]


def test_health_with_a_valid_token_adds_the_checks(owner_conn, token_for, make_user_id):
    latest = owner_conn.execute("SELECT max(version) AS version FROM schema_migrations").fetchone()["version"]

    status, body = call_http("HealthFunction", token=token_for(make_user_id()))

    assert status == 200
    details = body["details"]
    assert details["database"] == {
        "status": "ok",
        "schema_version": latest,
        "latency_ms": details["database"]["latency_ms"],
        "error_code": None,
    }
    assert details["configuration"]["status"] == "ok"
    assert details["environment"] == "development" and isinstance(details["mcp_servers"], list)


def test_health_with_a_token_that_does_not_verify_is_401(token_for, make_user_id):
    status, body = call_http("HealthFunction", token=token_for(make_user_id(), aud="another-api"))
    assert (status, body["error"]["code"]) == (401, "token_invalid_audience")


def test_health_is_503_when_the_database_is_down(service, token_for, make_user_id):
    token = token_for(make_user_id())
    service.setenv(
        "DATABASE_URL", "postgresql://auralink_app:pw-not-shown@127.0.0.1:9/auralink?connect_timeout=1"
    )
    reset_settings()
    reset_connection()

    status, public = call_http("HealthFunction", token=None)
    _, detailed = call_http("HealthFunction", token=token)

    assert status == 503
    assert public == {
        "status": "unavailable",
        "version": public["version"],
        "schema_version": None,
        "details": None,
    }
    assert detailed["details"]["database"]["status"] == "error"
    assert detailed["details"]["database"]["error_code"] == "database_unavailable"
    assert "pw-not-shown" not in json.dumps(public) + json.dumps(detailed)


def test_a_configuration_error_is_shown_only_with_a_token(service, tmp_path, token_for, make_user_id):
    broken = tmp_path / "mcp-config.yaml"
    broken.write_text("version: 1\nservers:\n  s:\n    display_name: S\n    endpoint: ${UNSET_FOR_TEST}\n")
    service.setenv("MCP_CONFIG_PATH", str(broken))
    reset_settings()
    config.reset_mcp_config()

    status, public = call_http("HealthFunction", token=None)
    _, detailed = call_http("HealthFunction", token=token_for(make_user_id()))

    assert status == 503
    assert public["status"] == "unavailable" and public["details"] is None
    assert "UNSET_FOR_TEST" not in json.dumps(public) and str(broken) not in json.dumps(public)
    assert detailed["details"]["configuration"]["status"] == "error"
    assert "UNSET_FOR_TEST" in detailed["details"]["configuration"]["error"]


PREFECT_SECRET_ID = "auralink/test/prefect"


def _prefect_seen(service, token: str, **variables: str) -> tuple[int, dict]:
    for name, value in variables.items():
        service.setenv(name, value)
    environment.forget_caches()
    status, body = call_http("HealthFunction", token=token)
    return status, body["details"]["prefect"]


def test_health_shows_the_prefect_server_answering(service, prefect_server, token_for, make_user_id):
    status, prefect = _prefect_seen(
        service, token_for(make_user_id()), PREFECT_API_URL=prefect_server.api_url
    )

    assert status == 200
    assert prefect == {"status": "ok", "latency_ms": prefect["latency_ms"], "error_code": None}
    assert prefect["latency_ms"] > 0


def test_prefect_on_a_closed_port_is_unavailable_and_the_service_still_serves(
    service, token_for, make_user_id
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]

    status, prefect = _prefect_seen(
        service, token_for(make_user_id()), PREFECT_API_URL=f"http://127.0.0.1:{closed}/api"
    )

    assert status == 200  # pipelines need Prefect; the rest of the service does not
    assert prefect == {"status": "unavailable", "latency_ms": None, "error_code": "prefect_unreachable"}


def test_prefect_that_holds_its_port_without_answering_yet_is_starting(service, token_for, make_user_id):
    # What the local server does while it loads: the port listens, nothing answers yet.
    with socket.socket() as loading:
        loading.bind(("127.0.0.1", 0))
        loading.listen(8)
        url = f"http://127.0.0.1:{loading.getsockname()[1]}/api"
        started = time.monotonic()

        status, prefect = _prefect_seen(service, token_for(make_user_id()), PREFECT_API_URL=url)

    assert status == 200
    assert prefect == {"status": "starting", "latency_ms": None, "error_code": None}
    assert time.monotonic() - started < prefect_api.ANSWER_TIMEOUT_S + 2


def test_without_a_prefect_api_health_says_so(service, token_for, make_user_id):
    status, prefect = _prefect_seen(service, token_for(make_user_id()))

    assert status == 200
    assert prefect == {"status": "unavailable", "latency_ms": None, "error_code": "prefect_not_configured"}


def test_the_prefect_api_comes_from_its_secret(service, prefect_server, token_for, make_user_id):
    boto3.client("secretsmanager").create_secret(
        Name=PREFECT_SECRET_ID, SecretString=json.dumps({"api_url": prefect_server.api_url})
    )

    _, prefect = _prefect_seen(service, token_for(make_user_id()), PREFECT_API_SECRET_ID=PREFECT_SECRET_ID)

    assert prefect["status"] == "ok"


@pytest.mark.parametrize(
    "document",
    [
        {"api_key": "pnu-not-shown"},
        {"api_url": "ftp://prefect.example/api", "api_key": "pnu-not-shown"},
        {"api_url": "https://api.prefect.cloud/api", "api_key": ""},
        {"api_url": "https://prefect.example/api", "api_key": "pnu-not-shown", "auth_string": "a:b"},
    ],
    ids=["no url", "not http", "empty key", "key and auth string"],
)
def test_a_malformed_prefect_secret_is_unavailable_and_shows_nothing_of_it(
    service, token_for, make_user_id, document
):
    boto3.client("secretsmanager").create_secret(Name=PREFECT_SECRET_ID, SecretString=json.dumps(document))

    _, prefect = _prefect_seen(service, token_for(make_user_id()), PREFECT_API_SECRET_ID=PREFECT_SECRET_ID)
    status, body = call_http("HealthFunction", token=None)

    assert status == 200
    assert prefect == {"status": "unavailable", "latency_ms": None, "error_code": "secret_unavailable"}
    assert "pnu-not-shown" not in json.dumps(prefect) + json.dumps(body)


def test_me_shows_the_caller_and_remembers_first_sight(token_for, make_user_id):
    alice = make_user_id("alice")

    status, first = call_http("MeFunction", token=token_for(alice, email="alice@example.com", role="admin"))
    _, second = call_http("MeFunction", token=token_for(alice, email="alice@new.example"))

    assert status == 200
    assert (first["sub"], first["email"], first["role"]) == (alice, "alice@example.com", "admin")
    assert second["email"] == "alice@new.example" and second["role"] == "user"
    assert second["first_seen_at"] == first["first_seen_at"]
    assert second["last_seen_at"] >= first["last_seen_at"]


def test_me_without_a_token_is_401(token_for):
    status, body = call_http("MeFunction", token=None)
    assert (status, body["error"]["code"]) == (401, "token_missing")


def test_me_with_a_token_for_another_audience_is_401(token_for, make_user_id):
    status, body = call_http("MeFunction", token=token_for(make_user_id(), aud="another-api"))
    assert (status, body["error"]["code"]) == (401, "token_invalid_audience")


def test_me_users_see_only_their_own_profile(token_for, make_user_id, owner_conn):
    alice, bob = make_user_id("alice"), make_user_id("bob")
    call_http("MeFunction", token=token_for(alice))
    call_http("MeFunction", token=token_for(bob))

    with tenant_transaction(alice) as conn:
        visible = [row["user_id"] for row in conn.execute("SELECT user_id FROM users").fetchall()]
    assert visible == [alice]


# A container's first request, in an interpreter of its own: the handler answers, then reports the
# modules it loaded.
_FIRST_REQUEST = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

class Context:
    function_name = "HealthFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:HealthFunction"
    aws_request_id = "c0ffee00-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self):
        return 10_000

response = module.lambda_handler(json.loads(sys.argv[2]), Context())
print(json.dumps({"status": response["statusCode"], "modules": sorted(sys.modules)}))
"""


# Powertools imports botocore's package module alone (for its user agent): not the SDK.
_AWS_SDK = ("boto3", "botocore.session", "botocore.client", "aws_lambda_powertools.utilities.parameters")


@pytest.mark.parametrize("database_in", ["url", "secret"])
def test_a_first_request_loads_no_aws_sdk(database_in):
    # The database by URL (locally), or, as in AWS, its credentials in Secrets Manager, read at the
    # first request with one signed POST (`auralink.aws_json`), not boto3 (150-400 ms of it).
    environment_of_function = dict(os.environ)
    if database_in == "secret":
        boto3.client("secretsmanager").create_secret(
            Name="auralink/test/database", SecretString=os.environ["DATABASE_URL"]
        )
        environment_of_function["DATABASE_SECRET_ID"] = "auralink/test/database"
        del environment_of_function["DATABASE_URL"]
    spec = local_functions().specs["HealthFunction"]
    handler = ROOT / spec.code_uri / spec.module_path

    result = subprocess.run(
        [sys.executable, "-c", _FIRST_REQUEST, str(handler), json.dumps(sample_event("HealthFunction"))],
        env=environment_of_function,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    answer = json.loads(result.stdout.splitlines()[-1])

    assert answer["status"] == 200
    assert [m for m in answer["modules"] if m.startswith(_AWS_SDK)] == []
