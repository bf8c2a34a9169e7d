"""The Prefect API that pipelines run against: where it is, how to authenticate, whether it answers.

Locally the runtime gives the functions `PREFECT_API_URL` (its own Prefect server, no key). In AWS
the secret `PREFECT_API_SECRET_ID` holds `{"api_url": "...", "api_key": "..."}`: Prefect Cloud's
workspace URL and API key, or a self-hosted server's URL (`api_key` absent, or `auth_string`
`user:password` for a server started with `PREFECT_SERVER_API_AUTH_STRING`). The key and the auth
string never leave this module except as the headers of a call to that URL.

Nothing here imports Prefect (about 2.5 s): /health checks the API with a plain HTTP request.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from auralink import secrets
from auralink.errors import ConfigurationError
from auralink.model import DeferredModel
from auralink.settings import get_settings

if TYPE_CHECKING:
    import httpx

PrefectState = Literal["ok", "starting", "unavailable"]

# /health waits this long for Prefect: a server that accepts the connection but has not answered by
# then is still loading (the local server holds its port while it imports and migrates).
CONNECT_TIMEOUT_S = 1.0
ANSWER_TIMEOUT_S = 2.0
_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


@dataclass(frozen=True)
class PrefectApi:
    """The configured Prefect API. ``repr`` shows the URL only."""

    url: str  # Prefect's API root, e.g. http://127.0.0.1:4200/api (what PREFECT_API_URL names)
    api_key: str | None = field(default=None, repr=False)
    auth_string: str | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        """What Prefect's own client sends: the key as a bearer token, or the auth string as basic."""
        if self.api_key:
            return {"Authorization": f"Bearer {self.api_key}"}
        if self.auth_string:
            return {"Authorization": "Basic " + base64.b64encode(self.auth_string.encode()).decode()}
        return {}


class PrefectHealth(DeferredModel):
    """The Prefect API as /health sees it (informative: it does not fail /health)."""

    status: PrefectState
    latency_ms: float | None = None
    error_code: str | None = None


def configured_api() -> PrefectApi | None:
    """The Prefect API of this deployment, or None when it has none.

    Raises ConfigurationError (naming the secret, never its value) when the secret cannot be read
    or does not hold a valid object.
    """
    settings = get_settings()
    if settings.prefect_api_url is not None:
        return PrefectApi(url=settings.prefect_api_url.rstrip("/"))
    if settings.prefect_api_secret_id is None:
        return None
    return _api_from_secret(settings.prefect_api_secret_id)


def _api_from_secret(secret_id: str) -> PrefectApi:
    document = secrets.get_secret_json(secret_id)
    url = document.get("api_url")
    if not isinstance(url, str) or not _URL.match(url):
        raise _malformed(secret_id, "api_url must be an http(s) URL")
    if get_settings().is_production and not url.startswith("https://"):
        raise _malformed(secret_id, "api_url must be https in production")
    credentials = {name: document.get(name) for name in ("api_key", "auth_string")}
    for name, value in credentials.items():
        if value is not None and (not isinstance(value, str) or not value):
            raise _malformed(secret_id, f"{name} must be a non-empty string when present")
    if credentials["api_key"] and credentials["auth_string"]:
        raise _malformed(secret_id, "api_key and auth_string are exclusive")
    return PrefectApi(
        url=url.rstrip("/"), api_key=credentials["api_key"], auth_string=credentials["auth_string"]
    )


def _malformed(secret_id: str, reason: str) -> ConfigurationError:
    return ConfigurationError(f"secret {secret_id!r}: {reason}", code="secret_unavailable")


def check() -> PrefectHealth:
    """Whether the configured Prefect API answers ``GET {url}/health``.

    ``ok``: it answered that it is healthy. ``starting``: it took the connection but has not
    answered within ``ANSWER_TIMEOUT_S`` (a server still loading). ``unavailable``: anything else,
    with a code that says why and never a URL, key or answer body.
    """
    try:
        api = configured_api()
    except ConfigurationError as exc:
        return PrefectHealth(status="unavailable", error_code=exc.code)
    if api is None:
        return PrefectHealth(status="unavailable", error_code="prefect_not_configured")
    return _probe(api)


def _probe(api: PrefectApi) -> PrefectHealth:
    # Imported here: /health without a token never calls Prefect, and its cold start stays as it was.
    import httpx  # noqa: PLC0415

    timeout = httpx.Timeout(ANSWER_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    started = time.perf_counter()
    try:
        response = httpx.get(f"{api.url}/health", headers=api.headers(), timeout=timeout)
    except httpx.ReadTimeout:
        # Connected, then no answer: the server has its port but does not serve yet.
        return PrefectHealth(status="starting")
    except httpx.TimeoutException:
        return PrefectHealth(status="unavailable", error_code="prefect_timeout")
    except httpx.HTTPError:
        return PrefectHealth(status="unavailable", error_code="prefect_unreachable")
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return _judge(response, latency_ms)


def _judge(response: httpx.Response, latency_ms: float) -> PrefectHealth:
    if response.status_code in (401, 403):
        return PrefectHealth(status="unavailable", latency_ms=latency_ms, error_code="prefect_unauthorized")
    try:
        healthy = response.status_code == 200 and response.json() is True
    except ValueError:
        healthy = False
    if not healthy:
        return PrefectHealth(status="unavailable", latency_ms=latency_ms, error_code="prefect_unhealthy")
    return PrefectHealth(status="ok", latency_ms=latency_ms)
