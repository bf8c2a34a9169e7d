"""Which heavy modules each function of the template loads at init, as Lambda would import it.

Each function's handler module is imported in a fresh interpreter with the function's folder as
its code root (first on ``sys.path``, as ``/var/task`` is) and the core layer on ``PYTHONPATH``, in
the environment of `bench.cold_start` (a database by URL, HS256 tokens, tracing off). Nothing is
invoked. Printed per function: the heavy modules in ``sys.modules`` after the import, and whether
the function answers HTTP (``api``), keeps a snapshot (``snap``, SnapStart) or runs on a schedule
(``sched``). Image functions (their own environment) are left out.

    .venv/bin/python -m bench.imports [LOGICAL_ID_OR_FOLDER ...]

A heavy module at init is worth it only where every request needs it: an API function that
verifies no token on some requests should not load ``jwt``; one that does not speak MCP should not
load ``mcp``; ``boto3`` and ``botocore`` come with the first secret read, never at init.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.cold_start import ENVIRONMENT, ROOT
from infra.template import FunctionSpec, function_properties, functions, load_template

HEAVY = (
    "jwt",
    "cryptography",
    "yaml",
    "mcp",
    "boto3",
    # Not the `botocore` package alone: Powertools imports it for its user agent, a bare handler too.
    "botocore.session",
    "langgraph",
    "prefect",
    "autogen_core",
    "httpx",
    "jsonschema",
)

_PROBE = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
importlib.import_module(sys.argv[2])
print(json.dumps([name for name in sys.argv[3].split(",") if name in sys.modules]))
"""


def loaded_at_init(spec: FunctionSpec) -> list[str] | str:
    """The heavy modules loaded by importing ``spec``'s handler module, or the error it raised."""
    module = spec.handler.rpartition(".")[0]
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(ROOT / spec.code_uri), module, ",".join(HEAVY)],
        env={**os.environ, **ENVIRONMENT},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT / spec.code_uri,
    )
    if result.returncode != 0:
        return "import failed: " + (result.stderr.strip().splitlines() or ["?"])[-1]
    found: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def _kind(template: dict[str, object], spec: FunctionSpec) -> str:
    kinds = []
    if spec.routes:
        kinds.append("api")
    if "SnapStart" in function_properties(template, spec.logical_id):
        kinds.append("snap")
    if spec.schedules:
        kinds.append("sched")
    return ",".join(kinds) or "-"


def main(selected: list[str] | None = None) -> None:
    template = load_template(ROOT / "template.yaml")
    specs = [spec for spec in functions(template) if spec.image is None]
    if selected:
        specs = [
            spec
            for spec in specs
            if spec.logical_id in selected or Path(spec.code_uri).as_posix().strip("/") in selected
        ]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(loaded_at_init, specs))
    width = max(len(spec.code_uri.strip("/")) for spec in specs)
    print(f"heavy modules loaded at init ({len(specs)} functions; watched: {', '.join(HEAVY)}):")
    for spec, found in sorted(zip(specs, results, strict=True), key=lambda pair: pair[0].code_uri):
        shown = found if isinstance(found, str) else " ".join(found) or "-"
        print(f"  {spec.code_uri.strip('/'):{width}s}  {_kind(template, spec):14s}  {shown}")


if __name__ == "__main__":
    main(sys.argv[1:])
