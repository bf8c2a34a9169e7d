"""`cfn-lint template.yaml` passes, as the gate runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.template_support import ROOT


def _cfn_lint() -> str | None:
    # The one next to this interpreter first: that is the gate's, whatever PATH says.
    beside = Path(sys.executable).with_name("cfn-lint")
    return str(beside) if beside.is_file() else shutil.which("cfn-lint")


def test_cfn_lint_passes() -> None:
    executable = _cfn_lint()
    if executable is None:
        pytest.skip("cfn-lint is not installed")

    result = subprocess.run(
        [executable, "template.yaml"], cwd=ROOT, capture_output=True, text=True, timeout=90, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
