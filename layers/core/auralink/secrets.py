"""Secrets Manager access, cached in the container.

Values are cached for ``SECRETS_MAX_AGE_S`` seconds, so that a warm container does not call
Secrets Manager on every request and still picks up a rotated secret soon after it changes.
Reads go through `auralink.aws_json`, not boto3: every function that reads the database reads a
secret at its first request, and the SDK would add 150-400 ms to that request. Errors name the
secret id, never its value.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from types import ModuleType
from typing import Any

from auralink.errors import ConfigurationError
from auralink.observability import logger
from auralink.settings import get_settings
from auralink.snapstart import after_restore, before_snapshot

__all__ = ["get_secret_json", "get_secret_string", "reset_caches"]

_lock = threading.Lock()
# secret id -> (value, monotonic time it was fetched)
_cache: dict[str, tuple[str | bytes, float]] = {}


def _unavailable(secret_id: str, reason: str) -> ConfigurationError:
    return ConfigurationError(f"secret {secret_id!r} {reason}", code="secret_unavailable")


def get_secret_string(secret_id: str, *, max_age: int | None = None, force_fetch: bool = False) -> str:
    """The secret's text value; a binary secret must hold UTF-8 text.

    ``max_age`` (seconds) overrides the settings' cache age; ``force_fetch`` skips the cache, for a
    value that may have changed since it was cached (a rotated database password).
    """
    value = _value(secret_id, max_age=max_age, force_fetch=force_fetch)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _unavailable(secret_id, "is not UTF-8 text") from None
    return value


def get_secret_json(secret_id: str) -> dict[str, Any]:
    """The secret's value parsed as a JSON object (a new object each call: callers may change it)."""
    text = get_secret_string(secret_id)
    try:
        value = json.loads(text)
    except ValueError:
        # The parser's error can quote the document; drop it so no part of the value travels on.
        raise _unavailable(secret_id, "is not valid JSON") from None
    if not isinstance(value, dict):
        raise _unavailable(secret_id, "is not a JSON object")
    return value


def _value(secret_id: str, *, max_age: int | None, force_fetch: bool) -> str | bytes:
    if max_age is None:
        max_age = get_settings().secrets_max_age_s
    with _lock:
        held = _cache.get(secret_id)
    if held is not None and not force_fetch and time.monotonic() - held[1] < max_age:
        return held[0]
    # Fetched outside the lock: a slow read (seconds, with retries) must not hold up the cached
    # reads of other secrets, from the threads an agent's tools run in. Two threads that miss the
    # same secret at once each fetch it; the later value stays.
    value = _fetch(secret_id)
    with _lock:
        _cache[secret_id] = (value, time.monotonic())
    return value


def _client() -> ModuleType:
    """The AWS client, loaded at the first read: a function given its database by URL (locally)
    reads no secret. SnapStart functions load it before their snapshot."""
    from auralink import aws_json  # noqa: PLC0415

    return aws_json


before_snapshot(_client)


def _fetch(secret_id: str) -> str | bytes:
    aws_json = _client()
    try:
        answer = aws_json.call(aws_json.SECRETS_MANAGER, "GetSecretValue", {"SecretId": secret_id})
    except aws_json.AwsError as exc:
        # The error holds Secrets Manager's error code and status, never a value.
        logger.warning("secret unavailable", extra={"secret_id": secret_id, "error": str(exc)})
        raise _unavailable(secret_id, "cannot be read") from None
    text = answer.get("SecretString")
    if isinstance(text, str):
        return text
    binary = answer.get("SecretBinary")
    if isinstance(binary, str):
        try:
            return base64.b64decode(binary, validate=True)
        except (binascii.Error, ValueError):
            raise _unavailable(secret_id, "has a binary value that is not base64") from None
    raise _unavailable(secret_id, "has no value")


@after_restore
def reset_caches() -> None:
    """Forget cached values.

    For tests, and for SnapStart's after-restore hook: a restored snapshot must not serve values
    fetched before it was taken.
    """
    with _lock:
        _cache.clear()
