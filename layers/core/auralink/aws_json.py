"""Calls to AWS APIs of the JSON protocol (Secrets Manager, Step Functions), signed with SigV4,
without botocore.

boto3 and botocore take 150-400 ms to import and to build a client. Every function that reads the
database reads its credentials from Secrets Manager at its first request, and every route that
starts a run calls Step Functions. One signed POST over the standard library costs a few
milliseconds of imports instead. It does what those functions need of the SDK, and nothing more:

- **Credentials** as Lambda gives them: the environment's access key (``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), else the container credentials endpoint
  (``AWS_CONTAINER_CREDENTIALS_FULL_URI`` with ``AWS_CONTAINER_AUTHORIZATION_TOKEN``), which is
  where a function restored from a SnapStart snapshot finds them. Endpoint credentials are kept
  until five minutes before they expire, and forgotten after a restore.
- **The endpoint**: ``AWS_ENDPOINT_URL_<SERVICE>``, else ``AWS_ENDPOINT_URL`` (as the SDKs read
  them: the local runtime and the tests point them at moto), else the region's own, its FIPS
  endpoint where ``AWS_USE_FIPS_ENDPOINT`` is true. (``AWS_USE_DUALSTACK_ENDPOINT`` is not read: a
  dual-stack endpoint is named in an endpoint variable.)
- **Retries**: a call that did not reach the service or got no whole answer, a 5xx or a
  throttling answer is tried again (full-jitter backoff), so only operations that are safe to
  repeat go through here (reads; a start of an execution by name); any other error is final.

Errors carry the service's error code and the HTTP status, never a request's or an answer's body.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import random
import ssl
import threading
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import SplitResult, urlsplit

from auralink.snapstart import after_restore

_BACKOFF_BASE_S = 0.1
_BACKOFF_MAX_S = 1.0
_CREDENTIALS_TIMEOUT_S = 2.0
# Endpoint credentials are fetched again this long before they expire.
_REFRESH_BEFORE_S = 300
_ECS_HOST = "http://169.254.170.2"
# Hosts that the credentials endpoint may be reached on over plain HTTP (botocore's rule):
# loopback (Lambda's) and the container agents' link-local addresses (ECS, EKS).
_PLAIN_HTTP_HOSTS = frozenset(
    {"127.0.0.1", "localhost", "::1", "169.254.170.2", "169.254.170.23", "fd00:ec2::23"}
)
_THROTTLING = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)


class AwsError(Exception):
    """An AWS call that failed: the service's error code (or the transport's), the HTTP status if
    an answer came, and whether trying again could succeed."""

    def __init__(self, code: str, status: int | None, *, retryable: bool) -> None:
        super().__init__(f"{code} (HTTP {status})" if status is not None else code)
        self.code = code
        self.status = status
        self.retryable = retryable


# Neither is a dataclass: building two at import took 3 ms, and every function that reads its
# database's secret imports this module.
class Service(NamedTuple):
    """What addresses and signs one service's calls."""

    signing_name: str  # the SigV4 scope's service, and the regional endpoint's first label
    target_prefix: str  # of the X-Amz-Target header: "<prefix>.<Operation>"
    endpoint_variable: str  # the SDKs' service-specific endpoint override
    content_type: str
    attempts: int = 3
    # One bound for each socket operation: connecting, sending, each read of the answer.
    timeout_s: float = 5.0

    @property
    def longest_call_s(self) -> float:
        """About the most a call may take: each attempt's connection and answer, the waits between."""
        return self.attempts * 2 * self.timeout_s + (self.attempts - 1) * _BACKOFF_MAX_S


SECRETS_MANAGER = Service(
    "secretsmanager", "secretsmanager", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "application/x-amz-json-1.1"
)
STEP_FUNCTIONS = Service(
    "states", "AWSStepFunctions", "AWS_ENDPOINT_URL_SFN", "application/x-amz-json-1.0", attempts=2
)


class Credentials:
    __slots__ = ("access_key_id", "refresh_at", "secret_access_key", "session_token")

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None = None,
        *,
        refresh_at: float | None = None,
    ) -> None:
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        # Monotonic time after which endpoint credentials are fetched again; None: read each call.
        self.refresh_at = refresh_at

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, ...)"


def call(service: Service, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``operation`` with ``payload``, as a JSON object; raises `AwsError`."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    last: AwsError | None = None
    for attempt in range(service.attempts):
        if attempt:
            ceiling = min(_BACKOFF_MAX_S, _BACKOFF_BASE_S * 2 ** (attempt - 1))
            time.sleep(random.uniform(0, ceiling))  # noqa: S311  # jitter, not a secret
        try:
            return _send(service, operation, body)
        except AwsError as exc:
            if not exc.retryable:
                raise
            last = exc
    assert last is not None
    raise last


def _send(service: Service, operation: str, body: bytes) -> dict[str, Any]:
    region = _region()
    url = urlsplit(_endpoint(service, region))
    host = url.hostname or ""
    headers = {
        "Content-Type": service.content_type,
        "X-Amz-Target": f"{service.target_prefix}.{operation}",
    }
    signed = sign(
        "POST",
        host_header(url.scheme, host, url.port),
        url.path or "/",
        headers,
        body,
        credentials=credentials(),
        region=region,
        service=service.signing_name,
        now=datetime.now(UTC),
    )
    status, answer, error_type = _post(url, signed, body, service.timeout_s)
    if status == 200:
        try:
            document = json.loads(answer)
        except ValueError:
            raise AwsError("InvalidResponse", status, retryable=True) from None
        if not isinstance(document, dict):
            raise AwsError("InvalidResponse", status, retryable=True)
        return document
    code = _error_code(answer, error_type)
    raise AwsError(code, status, retryable=status >= 500 or status == 429 or code in _THROTTLING)


def _post(
    url: SplitResult, headers: dict[str, str], body: bytes, timeout_s: float
) -> tuple[int, bytes, str | None]:
    connection = _connection(url.scheme, url.hostname or "", url.port, timeout_s)
    try:
        connection.request("POST", url.path or "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("X-Amzn-ErrorType")
    except (OSError, http.client.HTTPException) as exc:
        # Not reached, or no whole answer: sent again, as only operations safe to repeat come here.
        raise AwsError(type(exc).__name__, None, retryable=True) from None
    finally:
        connection.close()


def _connection(scheme: str, host: str, port: int | None, timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls_context())
    if scheme == "http":
        return http.client.HTTPConnection(host, port, timeout=timeout)
    raise AwsError("InvalidEndpoint", None, retryable=False)


@cache
def _tls_context() -> ssl.SSLContext:
    # The CA bundle botocore uses (certifi, in the layer), so that trust does not depend on the
    # runtime image's store; the system's where certifi is absent.
    try:
        import certifi  # noqa: PLC0415
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _error_code(answer: bytes, error_type: str | None) -> str:
    code = error_type
    if not code:
        try:
            document = json.loads(answer)
        except ValueError:
            document = None
        code = document.get("__type") if isinstance(document, dict) else None
    if not isinstance(code, str) or not code:
        return "UnknownError"
    # "prefix#Code" and "Code:http://..." are both in use.
    return code.rsplit("#", 1)[-1].split(":", 1)[0][:100]


def _region() -> str:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise AwsError("NoRegion", None, retryable=False)
    return region


def _endpoint(service: Service, region: str) -> str:
    override = os.environ.get(service.endpoint_variable) or os.environ.get("AWS_ENDPOINT_URL")
    if override:
        return override
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    fips = "-fips" if os.environ.get("AWS_USE_FIPS_ENDPOINT", "").lower() == "true" else ""
    return f"https://{service.signing_name}{fips}.{region}.{suffix}"


def host_header(scheme: str, host: str, port: int | None) -> str:
    """The Host header as SigV4 signs it: the port only where it is not the scheme's default."""
    shown = f"[{host}]" if ":" in host else host
    if port is None or (scheme, port) in {("https", 443), ("http", 80)}:
        return shown
    return f"{shown}:{port}"


# ---------------------------------------------------------------- SigV4


def sign(
    method: str,
    host: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    *,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """``headers`` with Host, X-Amz-Date, the session token and the Authorization of Signature
    Version 4 (a request without a query string)."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed_headers = {**headers, "Host": host, "X-Amz-Date": amz_date}
    if credentials.session_token:
        signed_headers["X-Amz-Security-Token"] = credentials.session_token
    canonical = {name.lower(): " ".join(value.split()) for name, value in signed_headers.items()}
    names = sorted(canonical)
    request = "\n".join(
        [
            method,
            path,
            "",
            "".join(f"{name}:{canonical[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(request.encode()).hexdigest()])
    key = f"AWS4{credentials.secret_access_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed_headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed_headers


# ---------------------------------------------------------------- credentials

_lock = threading.Lock()
_endpoint_credentials: Credentials | None = None


def credentials() -> Credentials:
    """The environment's access key, else the container endpoint's (kept until near expiry)."""
    key_id = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key_id and secret:
        return Credentials(key_id, secret, os.environ.get("AWS_SESSION_TOKEN") or None)
    global _endpoint_credentials  # noqa: PLW0603
    with _lock:
        held = _endpoint_credentials
        if held is None or held.refresh_at is None or time.monotonic() >= held.refresh_at:
            held = _endpoint_credentials = _from_container_endpoint()
        return held


def _from_container_endpoint() -> Credentials:
    full = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    relative = os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    if not full and not relative:
        raise AwsError("NoCredentials", None, retryable=False)
    url = urlsplit(full or f"{_ECS_HOST}{relative}")
    host = url.hostname or ""
    if url.scheme != "https" and not (url.scheme == "http" and host in _PLAIN_HTTP_HOSTS):
        raise AwsError("InvalidCredentialsEndpoint", None, retryable=False)
    headers = {"Accept": "application/json"}
    token = _authorization_token()
    if token:
        headers["Authorization"] = token
    path = url.path + (f"?{url.query}" if url.query else "")
    connection = _connection(url.scheme, host, url.port, _CREDENTIALS_TIMEOUT_S)
    try:
        connection.request("GET", path or "/", headers=headers)
        response = connection.getresponse()
        status, answer = response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise AwsError(f"CredentialsEndpoint{type(exc).__name__}", None, retryable=True) from None
    finally:
        connection.close()
    if status != 200:
        raise AwsError("CredentialsEndpointError", status, retryable=status >= 500 or status == 429)
    try:
        document = json.loads(answer)
        found = Credentials(
            document["AccessKeyId"],
            document["SecretAccessKey"],
            document.get("Token") or None,
            refresh_at=_refresh_at(document.get("Expiration")),
        )
    except (ValueError, KeyError, TypeError):
        raise AwsError("InvalidCredentials", status, retryable=False) from None
    return found


def _authorization_token() -> str | None:
    token_file = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    if token_file:
        try:
            return Path(token_file).read_text().strip()
        except OSError:
            raise AwsError("CredentialsTokenFileUnreadable", None, retryable=False) from None
    return os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN") or None


def _refresh_at(expiration: object) -> float:
    if not isinstance(expiration, str):
        return time.monotonic() + _REFRESH_BEFORE_S
    expires = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    left = (expires - datetime.now(UTC)).total_seconds()
    return time.monotonic() + max(0.0, left - _REFRESH_BEFORE_S)


@after_restore
def forget_credentials() -> None:
    """A restored container fetches its own credentials: the snapshot's may have expired."""
    global _endpoint_credentials  # noqa: PLW0603
    with _lock:
        _endpoint_credentials = None
