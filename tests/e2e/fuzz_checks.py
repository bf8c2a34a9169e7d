"""The check the schemathesis run of the suite applies to every answer (loaded as its hooks file).

A fault of ours is never an answer: no 500, and no other 5xx but 502, 503 and 504. Those three
say that a dependency failed, and each must carry an error code that docs/api.md lists with that
very status (or be a status the operation itself documents, like the 503 of `GET /health`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import schemathesis

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core")]

from tests.support.error_codes import documented_codes  # noqa: E402  # needs the path above

DEPENDENCY_FAILURES = {502, 503, 504}
DOCUMENTED = documented_codes()


def _error_code(text: str) -> Any:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


@schemathesis.check
def no_server_fault(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    status = response.status_code
    if status < 500:
        return
    if status not in DEPENDENCY_FAILURES:
        raise AssertionError(f"{status}: a fault of the service, not an answer")
    code = _error_code(response.text)
    if code is None:
        documented = case.operation.definition.raw.get("responses", {})
        if str(status) in documented:
            return
        raise AssertionError(f"{status} without an error code")
    if DOCUMENTED.get(code) != status:
        raise AssertionError(
            f"{status} {code}: docs/api.md lists {code} as {DOCUMENTED.get(code, 'nothing')}"
        )
