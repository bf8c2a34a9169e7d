"""Secrets Manager access, cached in the container through Powertools parameters.

Values are cached for ``SECRETS_MAX_AGE_S`` seconds, so that a warm container does not call
Secrets Manager on every request and still picks up a rotated secret soon after it changes.
Errors name the secret id, never its value.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from auralink.errors import ConfigurationError
from auralink.observability import logger
from auralink.settings import get_settings
from auralink.snapstart import after_restore

__all__ = ["get_secret_json", "get_secret_string", "reset_caches"]


def _unavailable(secret_id: str, reason: str) -> ConfigurationError:
    return ConfigurationError(f"secret {secret_id!r} {reason}", code="secret_unavailable")


_PARAMETERS = "aws_lambda_powertools.utilities.parameters"


def _parameters() -> ModuleType:
    # Imported on first use: it brings boto3 (~0.4 s of cold start), which functions that read
    # no secret (or read none before their first request) should not pay for at init.
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

    return parameters


def get_secret_string(secret_id: str, *, max_age: int | None = None, force_fetch: bool = False) -> str:
    """The secret's text value; a binary secret must hold UTF-8 text.

    ``max_age`` (seconds) overrides the settings' cache age; ``force_fetch`` skips the cache, for a
    value that may have changed since it was cached (a rotated database password).
    """
    parameters = _parameters()
    if max_age is None:
        max_age = get_settings().secrets_max_age_s
    try:
        value = parameters.get_secret(secret_id, max_age=max_age, force_fetch=force_fetch)
    except parameters.exceptions.GetParameterError as exc:
        # The wrapped botocore error names the operation and the error code, not the value.
        logger.warning("secret unavailable", extra={"secret_id": secret_id, "error": str(exc)})
        raise _unavailable(secret_id, "cannot be read") from exc
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _unavailable(secret_id, "is not UTF-8 text") from None
    return str(value)


def get_secret_json(secret_id: str) -> dict[str, Any]:
    """The secret's value parsed as a JSON object (a copy: callers may change it freely)."""
    parameters = _parameters()
    try:
        value = parameters.get_secret(secret_id, transform="json", max_age=get_settings().secrets_max_age_s)
    except parameters.exceptions.GetParameterError as exc:
        logger.warning("secret unavailable", extra={"secret_id": secret_id, "error": str(exc)})
        raise _unavailable(secret_id, "cannot be read") from exc
    except parameters.exceptions.TransformParameterError:
        # The parser's error can quote the document; drop it so no part of the value travels on.
        raise _unavailable(secret_id, "is not valid JSON") from None
    if not isinstance(value, dict):
        raise _unavailable(secret_id, "is not a JSON object")
    return dict(value)


@after_restore
def reset_caches() -> None:
    """Forget cached values and the Secrets Manager client.

    For tests, and for SnapStart's after-restore hook: a restored snapshot must not serve values
    fetched before it was taken, and a new client picks up the current endpoint and region.
    """
    if _PARAMETERS in sys.modules:
        sys.modules[_PARAMETERS].clear_caches()
