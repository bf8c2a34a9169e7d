"""The product's pydantic models build their validators at first use, not at import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "core" / "auralink"


def _bases(node: ast.ClassDef) -> set[str]:
    return {ast.unparse(base) for base in node.bases}


def test_every_model_of_the_layer_derives_from_the_deferred_base() -> None:
    direct = [
        f"{path.relative_to(LAYER)}:{node.lineno} {node.name}"
        for path in LAYER.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
        and _bases(node) & {"BaseModel", "pydantic.BaseModel"}
        and node.name != "DeferredModel"
    ]
    assert direct == []


def test_a_model_is_built_at_its_first_use_and_validates_as_before() -> None:
    # A fresh interpreter: the test process has long built every model.
    program = """
from auralink.platform.models import DatabaseCheck, HealthReport
assert not DatabaseCheck.__pydantic_complete__
assert not HealthReport.__pydantic_complete__
check = DatabaseCheck(status="ok", schema_version="3", latency_ms=1.5)
assert DatabaseCheck.__pydantic_complete__
assert not HealthReport.__pydantic_complete__
print(check.model_dump_json())
"""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False, cwd=LAYER.parent
    )
    assert result.returncode == 0, result.stderr
    assert '"status":"ok"' in result.stdout
    assert '"schema_version":"3"' in result.stdout
