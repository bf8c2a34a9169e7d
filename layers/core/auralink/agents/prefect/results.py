"""Where a pipeline run's task results are persisted: S3 in AWS, a local folder otherwise.

A Lambda container's folder dies with it, so in AWS a resumed run (its next step, or a step done
again after a crash, in another container) finds its completed tasks in a bucket instead
(`PIPELINE_RESULTS_BUCKET`). Each run step gets its own `S3ResultStorage`, a Prefect result storage
over boto3, whose keys live under ``<prefix>/<owner>/``: the owner is a digest of the run's user, so
no object is ever shared between users, whatever key Prefect gives it (the run's cache keys hold
the run or the owner already; a failed task's is random).

Prefect treats a result it cannot read as missing and a result it cannot write as a warning, and
goes on: a completed task would run again in the next step, its tool called twice. So the storage
remembers its first failure (`failure`), and the flow stops before the next task when it has one;
the step is then interrupted with ``pipeline_results_unavailable`` and the state machine retries
it, as for the Prefect API. Errors name the failure's kind (an S3 error code, or botocore's
exception), never the bucket, a key or an endpoint.
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING

import anyio.to_thread
from botocore import exceptions as aws
from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.filesystems import WritableFileSystem
from pydantic import PrivateAttr

from auralink.settings import get_settings
from auralink.snapstart import after_restore

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

PIPELINE_RESULTS_UNAVAILABLE = "pipeline_results_unavailable"
CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 10
# A key that does not exist yet: a task that has not completed (with s3:ListBucket; without it S3
# answers 403 and every first run of a task would look like a denied bucket).
_MISSING = frozenset({"NoSuchKey", "404"})
_OWNER_CHARS = 32


class ResultsUnavailable(Exception):
    """The results storage could not be read or written (denied, no bucket, S3 unreachable)."""


@functools.cache
def _client() -> S3Client:
    import boto3  # noqa: PLC0415  # only the run step's pipelines pay for it
    from botocore.config import Config  # noqa: PLC0415

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": 2},
    )
    return boto3.client("s3", config=config)


@after_restore
def reset_clients() -> None:
    """Forget the client: tests and restored snapshots must see the current endpoint and credentials."""
    _client.cache_clear()


class S3ResultStorage(WritableFileSystem):
    """Task results as objects ``<prefix>/<key>`` of a bucket. Never saved as a Prefect block: it
    lives for one run step, configured from the settings."""

    _block_type_name = "AuraLink S3 Results"

    bucket: str
    prefix: str
    _failure: str | None = PrivateAttr(default=None)

    @property
    def failure(self) -> str | None:
        """The kind of the first failure met (an S3 error code, or botocore's exception), if any."""
        return self._failure

    def _resolve_path(self, path: str) -> str:
        # Prefect records what this returns as the result's storage key and hands it back to read
        # it: a key already resolved stays as it is.
        base = self.prefix.rstrip("/")
        if not path:
            return base
        return path if path.startswith(base + "/") else f"{base}/{path}"

    def _read(self, path: str) -> bytes:
        key = self._resolve_path(path)
        try:
            answer = _client().get_object(Bucket=self.bucket, Key=key)
            return answer["Body"].read()
        except aws.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "unknown"))
            if code in _MISSING:
                raise ValueError("no result under this key") from None
            raise self._failed(code) from None
        except aws.BotoCoreError as exc:
            raise self._failed(type(exc).__name__) from None

    def _write(self, path: str, content: bytes) -> str:
        key = self._resolve_path(path)
        try:
            _client().put_object(Bucket=self.bucket, Key=key, Body=content)
        except aws.ClientError as exc:
            raise self._failed(str(exc.response.get("Error", {}).get("Code", "unknown"))) from None
        except aws.BotoCoreError as exc:
            raise self._failed(type(exc).__name__) from None
        return key

    def _failed(self, kind: str) -> ResultsUnavailable:
        if self._failure is None:
            self._failure = kind
        return ResultsUnavailable(f"the pipeline results storage is unavailable ({kind})")

    async def aread_path(self, path: str) -> bytes:
        return await anyio.to_thread.run_sync(self._read, path)

    @async_dispatch(aread_path)
    def read_path(self, path: str) -> bytes:  # type: ignore[override]  # Prefect's sync/async pair
        return self._read(path)

    async def awrite_path(self, path: str, content: bytes) -> str:
        return await anyio.to_thread.run_sync(self._write, path, content)

    @async_dispatch(awrite_path)
    def write_path(self, path: str, content: bytes) -> str:  # type: ignore[override]
        return self._write(path, content)


def owner_folder(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()[:_OWNER_CHARS]


def storage_for(user_id: str) -> S3ResultStorage | None:
    """The run step's result storage for a run of ``user_id``: S3 when a bucket is configured;
    None for the local folder (`executor.results_path`), Prefect's default storage."""
    settings = get_settings()
    if settings.pipeline_results_bucket is None:
        return None
    _client()  # made once, here: the flow's worker threads share it
    return S3ResultStorage(
        bucket=settings.pipeline_results_bucket,
        prefix=f"{settings.pipeline_results_prefix}/{owner_folder(user_id)}",
    )
