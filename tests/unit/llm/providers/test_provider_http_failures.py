"""How a provider's HTTP answer becomes a domain error: codes, retry hints, quoted messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from auralink.llm.errors import AUTH_FAILED, BAD_REQUEST, PROTOCOL_ERROR, RATE_LIMITED, SERVER_ERROR
from auralink.llm.providers.http import (
    MAX_PROVIDER_MESSAGE,
    HttpAnswer,
    failure_for_status,
    provider_message,
    retry_after_seconds,
)

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
KEY = "sk-unit-secret-0123456789"


def answer(
    status: int, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> HttpAnswer:
    content = raw if raw is not None else json.dumps(body).encode()
    return HttpAnswer(status, httpx2.Headers(headers or {}), content)


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (401, AUTH_FAILED, False),
        (403, AUTH_FAILED, False),
        (400, BAD_REQUEST, False),
        (404, BAD_REQUEST, False),
        (422, BAD_REQUEST, False),
        (429, RATE_LIMITED, True),
        (408, SERVER_ERROR, True),
        (500, SERVER_ERROR, True),
        (503, SERVER_ERROR, True),
        (529, SERVER_ERROR, True),
        (307, PROTOCOL_ERROR, False),
    ],
)
def test_each_status_has_one_code(status: int, code: str, retryable: bool) -> None:
    error = failure_for_status("OpenAI", answer(status, {"error": {"message": "nope"}}), KEY, now=NOW)

    assert error.code == code
    assert error.retryable is retryable
    assert error.details["http_status"] == status


def test_a_bad_request_quotes_the_providers_message_truncated_and_without_the_key() -> None:
    said = f"Model 'x' not found for key {KEY}. " + "more " * 200
    error = failure_for_status("OpenAI", answer(404, {"error": {"message": said}}), KEY, now=NOW)

    assert "Model 'x' not found" in error.message
    assert KEY not in error.message
    assert KEY not in json.dumps(error.details)
    assert len(error.details["provider_message"]) == MAX_PROVIDER_MESSAGE


def test_an_auth_failure_never_quotes_the_provider_which_may_echo_the_key() -> None:
    said = "Incorrect API key provided: sk-unit-s**************6789."
    error = failure_for_status("OpenAI", answer(401, {"error": {"message": said}}), KEY, now=NOW)

    assert error.message == "OpenAI refused the API key (HTTP 401)"
    assert "6789" not in json.dumps(error.details)


def test_google_says_a_wrong_key_with_400_and_an_error_info() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "API key not valid.",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
        }
    }

    assert failure_for_status("Google Gemini", answer(400, body), KEY, now=NOW).code == AUTH_FAILED


def test_plain_text_error_bodies_are_quoted_too() -> None:
    error = failure_for_status("vLLM", answer(400, raw=b"model  llama\nis not served"), None, now=NOW)

    assert error.message.endswith(": model llama is not served")


@pytest.mark.parametrize(
    ("headers", "body", "seconds"),
    [
        ({"retry-after": "7"}, None, 7),
        ({"retry-after": "0.5"}, None, 1),  # rounded up: a wait is never 0
        ({"retry-after-ms": "1500", "retry-after": "9"}, None, 2),
        ({"retry-after": "Tue, 01 Jan 2030 12:00:30 GMT"}, None, 30),
        ({"retry-after": "Tue, 01 Jan 2030 11:00:00 GMT"}, None, 0),
        ({"retry-after": "soon"}, None, None),
        ({"retry-after": "-3"}, None, None),
        (
            {},
            {
                "error": {
                    "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "13s"}]
                }
            },
            13,
        ),
        ({}, {"error": {"message": "slow down"}}, None),
    ],
)
def test_retry_hints_are_whole_seconds(headers: dict[str, str], body: Any, seconds: int | None) -> None:
    hint = retry_after_seconds(httpx2.Headers(headers), body, now=NOW)
    assert hint == seconds
    assert hint is None or type(hint) is int


def test_a_429_carries_its_hint() -> None:
    error = failure_for_status("Anthropic", answer(429, {}, {"retry-after": "3"}), KEY, now=NOW)

    assert error.retry_after_seconds == 3


def test_messages_are_read_from_each_providers_error_shape() -> None:
    assert provider_message(
        {"type": "error", "error": {"type": "x", "message": "anthropic says"}}, b"", None
    ) == ("anthropic says")
    assert provider_message({"error": "ollama says"}, b"", None) == "ollama says"
    assert provider_message({"message": "other says"}, b"", None) == "other says"
    assert provider_message({"error": {"code": 3}}, b"", None) == ""
