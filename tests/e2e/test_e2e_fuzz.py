"""Schemathesis over every operation of docs/openapi.json, against the local runtime.

All four phases run: the documented examples, coverage (boundary values and invalid input for
each parameter, methods the routes do not have), fuzzing, and the stateful phase, which chains
operations through the links it infers from the document (a connection or workflow created, then
read, used and deleted). Every answer goes through the check in `fuzz_checks.py`: never a 500,
and a 502, 503 or 504 only with an error code docs/api.md lists with that status.

The run is bounded by the number of cases per operation, not by time, so that a slower machine
runs the same cases. On failure, the output gives each failing case as a curl command and the
seed that reproduces the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "openapi.json"
CHECKS = Path(__file__).with_name("fuzz_checks.py")
# Cases per operation in each phase: about 3,000 requests in all, about a minute on two cores.
MAX_EXAMPLES = 60
RUN_TIMEOUT_S = 420

pytestmark = pytest.mark.e2e


def _operations() -> int:
    paths = json.loads(DOCUMENT.read_text())["paths"]
    return sum(1 for operations in paths.values() for method in operations if method != "parameters")


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_no_operation_answers_a_fault_of_the_service(local_runtime: LocalRuntime, tmp_path: Path) -> None:
    token = mint_dev_token(f"fuzz-{uuid.uuid4().hex[:12]}", root=ROOT)
    report_path = tmp_path / "report.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(DOCUMENT),
        "--url",
        local_runtime.url,
        "--header",
        f"Authorization: Bearer {token}",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--checks",
        "no_server_fault",
        "--max-examples",
        str(MAX_EXAMPLES),
        # One request at a time: a failing case (or a stateful sequence) replays as it ran.
        "--workers",
        "1",
        "--request-timeout",
        "35",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report_path),
    ]
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": str(CHECKS)}

    finished = subprocess.run(
        command,
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )

    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output[-30_000:]
    report = json.loads(report_path.read_text())
    assert report["operations"]["tested"] == _operations(), output[-5_000:]
    assert report["phases"]["stateful"]["status"] == "success", report["phases"]
    cases = report["test_cases"]
    assert cases["errored"] == 0 and cases["generated"] > 0, cases
    print(f"schemathesis: {cases['generated']} cases over {_operations()} operations, no fault")
