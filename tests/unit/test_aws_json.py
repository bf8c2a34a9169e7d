"""The botocore-free AWS client: SigV4 as botocore signs, credentials as Lambda gives them,
retries of what is safe to retry, and errors that carry no body. Real HTTP on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import auth as botocore_auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from moto import mock_aws

from auralink import aws_json, secrets
from auralink.aws_json import AwsError, Credentials
from auralink.errors import ConfigurationError
from tests.support.aws_loopback import Loopback, serving

ROOT = Path(__file__).resolve().parents[2]
SENTINEL = "s3cr3t-value-that-must-never-leak"
NOW = datetime(2026, 12, 5, 9, 30, 15, tzinfo=UTC)


# --- SigV4 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("session_token", [None, "FwoGZXIvYXdzEJr//session+token=="])
@pytest.mark.parametrize(
    "url",
    [
        "https://secretsmanager.eu-west-1.amazonaws.com/",
        "http://127.0.0.1:4566/",
        # A REST path with an encoded segment (a Bedrock model id holds a colon).
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/us.meta.llama3-3-70b-instruct-v1%3A0/converse",
    ],
)
def test_a_request_is_signed_as_botocore_signs_it(
    url: str, session_token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps({"SecretId": "app/db"}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"}
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token)
    expected = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    botocore_auth.SigV4Auth(
        BotocoreCredentials(credentials.access_key_id, credentials.secret_access_key, session_token),
        "secretsmanager",
        "eu-west-1",
    ).add_auth(expected)

    split = aws_json.urlsplit(url)
    signed = aws_json.sign(
        "POST",
        aws_json.host_header(split.scheme, split.hostname or "", split.port),
        split.path,
        headers,
        body,
        credentials=credentials,
        region="eu-west-1",
        service="secretsmanager",
        now=NOW,
    )

    assert signed["Authorization"] == expected.headers["Authorization"]
    assert signed["X-Amz-Date"] == expected.headers["X-Amz-Date"]
    assert signed.get("X-Amz-Security-Token") == expected.headers.get("X-Amz-Security-Token")


def test_credentials_do_not_show_their_secret() -> None:
    shown = repr(Credentials("AKIDEXAMPLE", SENTINEL, SENTINEL))

    assert SENTINEL not in shown


# --- a service on loopback --------------------------------------------------------------------


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    with serving() as server:
        yield server


@pytest.fixture
def aws(loopback: Loopback, service_environment: pytest.MonkeyPatch) -> Loopback:
    """The service's environment, its Secrets Manager endpoint the loopback server; no backoff."""
    service_environment.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", loopback.url)
    service_environment.setattr(aws_json, "_BACKOFF_BASE_S", 0.0)
    return loopback


def _get_secret_value() -> dict[str, Any]:
    return aws_json.call(aws_json.SECRETS_MANAGER, "GetSecretValue", {"SecretId": "app/db"})


def test_a_call_is_a_signed_post_of_the_json_protocol(aws: Loopback) -> None:
    aws.answer(200, {"Name": "app/db", "SecretString": "value"})

    assert _get_secret_value() == {"Name": "app/db", "SecretString": "value"}

    [(method, path, headers, body)] = aws.received
    assert (method, path, json.loads(body)) == ("POST", "/", {"SecretId": "app/db"})
    assert headers["X-Amz-Target"] == "secretsmanager.GetSecretValue"
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/us-east-1/secretsmanager/aws4_request" in headers["Authorization"]


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (500, {"__type": "InternalServiceError"}, {}),
        (503, {}, {}),
        (400, {"__type": "ThrottlingException", "message": "Rate exceeded"}, {}),
        (429, {}, {}),
    ],
)
def test_a_failure_safe_to_retry_is_tried_again(
    aws: Loopback, status: int, body: dict[str, str], headers: dict[str, str]
) -> None:
    aws.answer(status, body, headers)
    aws.answer(200, {"SecretString": "value"})

    assert _get_secret_value() == {"SecretString": "value"}
    assert len(aws.received) == 2


def test_retries_end_after_three_attempts_with_the_last_error(aws: Loopback) -> None:
    for _ in range(4):
        aws.answer(500, {"__type": "com.amazonaws#InternalServiceError"})

    with pytest.raises(AwsError) as info:
        _get_secret_value()

    assert (info.value.code, info.value.status, info.value.retryable) == ("InternalServiceError", 500, True)
    assert len(aws.received) == aws_json.SECRETS_MANAGER.attempts == 3


def test_an_error_of_the_request_is_final_and_carries_no_body(aws: Loopback) -> None:
    aws.answer(
        400, {"message": f"the value {SENTINEL}"}, {"X-Amzn-ErrorType": "AccessDeniedException:http://x"}
    )

    with pytest.raises(AwsError) as info:
        _get_secret_value()

    assert (info.value.code, info.value.status, info.value.retryable) == ("AccessDeniedException", 400, False)
    assert SENTINEL not in str(info.value)
    assert len(aws.received) == 1


def test_a_service_that_cannot_be_reached_is_tried_three_times(
    service_environment: pytest.MonkeyPatch, loopback: Loopback
) -> None:
    # A port nothing listens on: the loopback server's, once closed.
    service_environment.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")
    service_environment.setattr(aws_json, "_BACKOFF_BASE_S", 0.0)
    sent: list[str] = []
    connect = aws_json._connection
    service_environment.setattr(aws_json, "_connection", lambda *a: sent.append("x") or connect(*a))

    with pytest.raises(AwsError) as info:
        _get_secret_value()

    error = info.value
    assert (error.code, error.status, error.retryable) == ("ConnectionRefusedError", None, True)
    assert len(sent) == 3


def test_without_a_region_nothing_is_sent(aws: Loopback, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)

    with pytest.raises(AwsError) as info:
        _get_secret_value()

    assert info.value.code == "NoRegion"
    assert aws.received == []


def test_the_regional_endpoint_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SFN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(variable, raising=False)

    assert aws_json._endpoint(aws_json.SECRETS_MANAGER, "eu-west-1") == (
        "https://secretsmanager.eu-west-1.amazonaws.com"
    )
    assert aws_json._endpoint(aws_json.SECRETS_MANAGER, "cn-north-1") == (
        "https://secretsmanager.cn-north-1.amazonaws.com.cn"
    )
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    assert (
        aws_json._endpoint(aws_json.STEP_FUNCTIONS, "us-east-1")
        == "https://states-fips.us-east-1.amazonaws.com"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert aws_json._endpoint(aws_json.SECRETS_MANAGER, "eu-west-1") == "http://127.0.0.1:4566"


# --- credentials --------------------------------------------------------------------------------


@pytest.fixture
def container_credentials(aws: Loopback, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """No access key in the environment: credentials from the container endpoint, as a function
    restored by SnapStart finds them."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{aws.url}/2018-06-01/credentials")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-token")
    aws_json.forget_credentials()

    def answer(key_id: str, expires_in: timedelta) -> None:
        expiration = (datetime.now(UTC) + expires_in).strftime("%Y-%m-%dT%H:%M:%SZ")
        aws.answer(
            200, {"AccessKeyId": key_id, "SecretAccessKey": "secret", "Token": "t", "Expiration": expiration}
        )

    yield answer
    aws_json.forget_credentials()


def test_credentials_come_from_the_container_endpoint_when_the_environment_has_none(
    aws: Loopback, container_credentials: Callable[..., None]
) -> None:
    container_credentials("ASIAFROMCONTAINER", timedelta(hours=6))
    aws.answer(200, {"SecretString": "one"})
    aws.answer(200, {"SecretString": "two"})

    _get_secret_value()
    _get_secret_value()

    fetch, first, second = aws.received
    assert (fetch[0], fetch[1]) == ("GET", "/2018-06-01/credentials")
    assert fetch[2]["Authorization"] == "container-token"
    # Kept while they are valid: the endpoint is asked once for two calls.
    for call in (first, second):
        assert call[2]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIAFROMCONTAINER/")
        assert call[2]["X-Amz-Security-Token"] == "t"


def test_credentials_near_their_expiry_are_fetched_again(
    aws: Loopback, container_credentials: Callable[..., None]
) -> None:
    container_credentials("ASIAOLD", timedelta(minutes=2))
    aws.answer(200, {"SecretString": "one"})
    container_credentials("ASIANEW", timedelta(hours=6))
    aws.answer(200, {"SecretString": "two"})

    _get_secret_value()
    _get_secret_value()

    methods = [(method, headers.get("Authorization", "")[:40]) for method, _, headers, _ in aws.received]
    assert [method for method, _ in methods] == ["GET", "POST", "GET", "POST"]
    assert "ASIAOLD" in methods[1][1]
    assert "ASIANEW" in methods[3][1]


def test_a_credentials_endpoint_over_plain_http_off_the_host_is_refused(
    aws: Loopback, container_credentials: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://credentials.example.com/creds")

    with pytest.raises(AwsError) as info:
        _get_secret_value()

    assert info.value.code == "InvalidCredentialsEndpoint"
    assert aws.received == []


def test_without_any_credentials_nothing_is_sent(aws: Loopback, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    with pytest.raises(AwsError) as info:
        _get_secret_value()

    assert info.value.code == "NoCredentials"
    assert aws.received == []


# --- what the secrets module makes of it ----------------------------------------------------------


def test_a_secret_that_cannot_be_read_is_a_configuration_error_without_the_answer(
    aws: Loopback, caplog: pytest.LogCaptureFixture
) -> None:
    aws.answer(400, {"__type": "AccessDeniedException", "message": f"not for you {SENTINEL}"})

    with pytest.raises(ConfigurationError) as info:
        secrets.get_secret_string("app/db")

    assert (info.value.code, str(info.value)) == ("secret_unavailable", "secret 'app/db' cannot be read")
    assert info.value.__cause__ is None
    [logged] = [record for record in caplog.records if record.getMessage() == "secret unavailable"]
    assert (logged.secret_id, logged.error) == ("app/db", "AccessDeniedException (HTTP 400)")  # type: ignore[attr-defined]
    assert SENTINEL not in caplog.text


def test_reading_a_secret_loads_no_aws_sdk(service_environment: pytest.MonkeyPatch) -> None:
    # Powertools imports botocore's package module alone (for its user agent): not the SDK.
    program = (
        "import sys\n"
        "from auralink import secrets\n"
        "assert secrets.get_secret_string('app/plain') == 'hello'\n"
        "sdk = ('boto3', 'botocore.session', 'botocore.client',"
        " 'aws_lambda_powertools.utilities.parameters')\n"
        "print(sorted(m for m in sys.modules if m.startswith(sdk)))\n"
    )
    with mock_aws():
        boto3.client("secretsmanager").create_secret(Name="app/plain", SecretString="hello")
        result = subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONPATH": str(ROOT / "layers" / "core")},
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )

    assert result.stdout.strip().splitlines()[-1] == "[]"
