"""Calls to AWS's JSON APIs (Secrets Manager and Step Functions by operation name, Bedrock's
Converse by path), signed with SigV4, without botocore.

boto3 and botocore take 150-400 ms to import and to build a client. Every function that reads the
database reads its credentials from Secrets Manager at its first request, every route that starts
a run calls Step Functions, and a chat on a Meta model calls Bedrock. One signed POST over the
standard library costs a few milliseconds of imports instead. It does what those functions need
of the SDK, and nothing more:

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
  throttling answer is tried again (full-jitter backoff) up to the service's attempts, so only
  operations that are safe to repeat are given more than one (reads; a start of an execution by
  name); any other error is final. Bedrock's calls are made once: the LLM gateway retries.

Errors carry the service's error code and the HTTP status, never a request's or an answer's body
(the service's message rides apart, for a caller that shows it).
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
from urllib.parse import SplitResult, quote, urlsplit

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
    an answer came, and whether trying again could succeed. ``message`` is what the service said,
    for a caller that shows it (a model's refusal of a request); never in the error's text."""

    def __init__(self, code: str, status: int | None, *, retryable: bool, message: str | None = None) -> None:
        super().__init__(f"{code} (HTTP {status})" if status is not None else code)
        self.code = code
        self.status = status
        self.retryable = retryable
        self.message = message


# Neither is a dataclass: building two at import took 3 ms, and every function that reads its
# database's secret imports this module.
class Service(NamedTuple):
    """What addresses and signs one service's calls."""

    signing_name: str  # the SigV4 scope's service
    # Of the X-Amz-Target header, "<prefix>.<Operation>" (`call`); empty for a REST API (`post`).
    target_prefix: str
    endpoint_variable: str  # the SDKs' service-specific endpoint override
    content_type: str
    attempts: int = 3
    # What an attempt may take, from connecting to the answer's headers (`_exchange`).
    timeout_s: float = 5.0
    # The regional endpoint's first label, where it is not the signing name.
    host_prefix: str | None = None

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
# The caller retries (within its deadline) and bounds each call: `post`'s attempts and timeout.
BEDROCK_RUNTIME = Service(
    "bedrock",
    "",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "application/json",
    attempts=1,
    host_prefix="bedrock-runtime",
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
    """The answer of ``operation`` with ``payload`` (an API of the JSON protocol, whose operation
    is named by a header), as a JSON object; raises `AwsError`."""
    target = {"X-Amz-Target": f"{service.target_prefix}.{operation}"}
    return _with_retries(service, "", target, payload, region=None, timeout_s=service.timeout_s)


def post(
    service: Service, path: str, payload: dict[str, Any], *, region: str | None = None, timeout_s: float
) -> dict[str, Any]:
    """The answer of a POST of ``payload`` to ``path`` (a REST API of JSON documents, ``path``'s
    segments percent-encoded), as a JSON object; raises `AwsError`. ``region`` overrides the
    environment's; ``timeout_s`` bounds each attempt (`_exchange`)."""
    return _with_retries(service, path, {}, payload, region=region, timeout_s=timeout_s)


def _with_retries(
    service: Service,
    path: str,
    headers: dict[str, str],
    payload: dict[str, Any],
    *,
    region: str | None,
    timeout_s: float,
) -> dict[str, Any]:
    body = json.dumps(payload, separators=(",", ":")).encode()
    last: AwsError | None = None
    for attempt in range(service.attempts):
        if attempt:
            ceiling = min(_BACKOFF_MAX_S, _BACKOFF_BASE_S * 2 ** (attempt - 1))
            time.sleep(random.uniform(0, ceiling))  # noqa: S311  # jitter, not a secret
        try:
            return _send(service, path, headers, body, region=region or _region(), timeout_s=timeout_s)
        except AwsError as exc:
            if not exc.retryable:
                raise
            last = exc
    assert last is not None
    raise last


def _send(
    service: Service, path: str, headers: dict[str, str], body: bytes, *, region: str, timeout_s: float
) -> dict[str, Any]:
    url = urlsplit(_endpoint(service, region))
    host = url.hostname or ""
    full_path = url.path.rstrip("/") + path if path else url.path or "/"
    signed = sign(
        "POST",
        host_header(url.scheme, host, url.port),
        full_path,
        {"Content-Type": service.content_type, **headers},
        body,
        credentials=credentials(),
        region=region,
        service=service.signing_name,
        now=datetime.now(UTC),
    )
    status, answer, error_type = _exchange(url, "POST", full_path, signed, body, timeout_s=timeout_s)
    if status == 200:
        try:
            document = json.loads(answer)
        except ValueError:
            raise AwsError("InvalidResponse", status, retryable=True) from None
        if not isinstance(document, dict):
            raise AwsError("InvalidResponse", status, retryable=True)
        return document
    code, message = _error(answer, error_type)
    retryable = status >= 500 or status == 429 or code in _THROTTLING
    raise AwsError(code, status, retryable=retryable, message=message)


def _exchange(
    url: SplitResult, method: str, path: str, headers: dict[str, str], body: bytes | None, *, timeout_s: float
) -> tuple[int, bytes, str | None]:
    """One request and its answer: its status, body and error type. Connecting, sending and
    waiting for the answer's headers share ``timeout_s`` (a caller's deadline holds, however the
    time splits); each read of the body then waits at most what was left."""
    deadline = time.monotonic() + timeout_s
    connection = _connection(url.scheme, url.hostname or "", url.port, timeout_s)
    try:
        try:
            connection.connect()
        except TimeoutError:
            raise AwsError("ConnectTimeout", None, retryable=True) from None
        left = deadline - time.monotonic()
        if left <= 0:
            raise AwsError("ConnectTimeout", None, retryable=True)
        connection.sock.settimeout(left)
        connection.request(method, path, body=body, headers=headers)
        try:
            response = connection.getresponse()
            return response.status, response.read(), response.getheader("X-Amzn-ErrorType")
        except TimeoutError:
            # Sent, and no answer in time: only a caller that may repeat the call retries it.
            raise AwsError("ReadTimeout", None, retryable=True) from None
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


def _error(answer: bytes, error_type: str | None) -> tuple[str, str | None]:
    """The error's code and the service's message, from the answer's header or body."""
    try:
        document = json.loads(answer)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        document = {}
    code = error_type or document.get("__type")
    message = document.get("message", document.get("Message"))
    message = message if isinstance(message, str) else None
    if not isinstance(code, str) or not code:
        return "UnknownError", message
    # "prefix#Code" and "Code:http://..." are both in use.
    return code.rsplit("#", 1)[-1].split(":", 1)[0][:100], message


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
    return f"https://{service.host_prefix or service.signing_name}{fips}.{region}.{suffix}"


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
            # Every service but S3 signs the path's segments encoded once more than sent.
            quote(path, safe="/~"),
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
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    try:
        status, answer, _ = _exchange(url, "GET", path, headers, None, timeout_s=_CREDENTIALS_TIMEOUT_S)
    except AwsError as exc:
        raise AwsError(f"CredentialsEndpoint{exc.code}", None, retryable=True) from None
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
