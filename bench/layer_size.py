"""The layers as the Makefile builds them: their unzipped size for Lambda, and how long each agent
framework takes to import from them in a fresh interpreter.

Sizes: the template's layers built by their `build-<LayerId>` targets for Lambda's platform
(python3.13 on arm64, bytecode compiled, boto3 and botocore left to the runtime), then each set of
layers that functions carry, against Lambda's limit for a function and its layers unzipped.

Imports: the same targets built for this machine, each framework imported from the layers of the
function that carries it (the run step's: core, LangGraph, AutoGen, Prefect) beside the runtime's
boto3, median of BENCH_SAMPLES fresh interpreters, with the layers' bytecode and with none (what a
read-only code folder without `.pyc` files costs at every start).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from infra.template import functions, load_template
from tests.packaging.artifacts import (
    ROOT,
    base_interpreter,
    build_layers,
    makefile_layers,
    runtime_stand_in,
    unzipped_size,
)

SAMPLES = int(os.environ.get("BENCH_SAMPLES", "5"))
LAMBDA_PYTHON = (3, 13)
# "Unzipped size must be smaller than 262144000 bytes": a function's code and its layers.
UNZIPPED_LIMIT = 262_144_000
# What each framework layer's users import first: AutoGen's teams and agents, LangGraph's graphs,
# Prefect's flows, tasks and API client.
FRAMEWORK_IMPORTS = {
    "LangGraphLayer": "import langgraph.graph",
    "AutoGenLayer": "import autogen_agentchat.teams, autogen_agentchat.agents",
    "PrefectLayer": "import prefect, prefect.client.orchestration",
}
# The function whose layers the frameworks are imported from.
FRAMEWORK_FUNCTION = "RunStepFunction"
_TIMED = """
import sys, time
sys.path[:0] = {paths!r}
started = time.perf_counter()
{statement}
print(time.perf_counter() - started)
"""


def _report_sizes(layers: dict[str, Path]) -> None:
    sizes = {layer_id: unzipped_size(folder) for layer_id, folder in layers.items()}
    for layer_id in sorted(layers, key=lambda layer_id: layer_id != "CoreLayer"):
        print(f"{layer_id} unzipped: {sizes[layer_id] / 1e6:.1f} MB")
        folder = layers[layer_id]
        parts = sorted(((unzipped_size(p), p.name) for p in folder.iterdir() if p.is_dir()), reverse=True)
        print("  largest: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for size, name in parts[:6]))
        if (folder / "auralink").is_dir():
            print(f"  (auralink itself {unzipped_size(folder / 'auralink') / 1e6:.2f} MB)")
    carried: defaultdict[tuple[str, ...], list[str]] = defaultdict(list)
    for spec in functions(load_template(ROOT / "template.yaml")):
        carried[spec.layers].append(spec.logical_id)
    for layer_ids, function_ids in sorted(carried.items()):
        total = sum(sizes[layer_id] for layer_id in layer_ids)
        users = function_ids[0] if len(function_ids) == 1 else f"{len(function_ids)} functions"
        print(
            f"{' + '.join(layer_ids)} ({users}): {total / 1e6:.1f} MB "
            f"of Lambda's {UNZIPPED_LIMIT / 1e6:.1f} MB (250 MiB)"
        )


def _median_import(python: Path, paths: list[Path], statement: str, *, bytecode: bool, home: Path) -> float:
    code = _TIMED.format(paths=[str(path) for path in paths], statement=statement)
    flags = ["-I", "-S"] if bytecode else ["-I", "-S", "-B"]
    # Prefect writes its home at import (on Lambda, PREFECT_HOME under /tmp); analytics off.
    env = {"PREFECT_HOME": str(home), "DO_NOT_TRACK": "1"}
    samples = []
    for _ in range(SAMPLES + 1):  # the first one warms the page cache
        completed = subprocess.run(
            [str(python), *flags, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        samples.append(float(completed.stdout.split()[-1]))
    return statistics.median(samples[1:])


def _without_bytecode(folder: Path, into: Path) -> Path:
    shutil.copytree(folder, into, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return into


def _report_imports(layers: dict[str, Path], runtime: Path, scratch: Path) -> None:
    python = base_interpreter()
    specs = functions(load_template(ROOT / "template.yaml"))
    (spec,) = [spec for spec in specs if spec.logical_id == FRAMEWORK_FUNCTION]
    with_pyc = [*(layers[layer_id] for layer_id in spec.layers), runtime]
    bare = [*(_without_bytecode(layers[layer_id], scratch / layer_id) for layer_id in spec.layers), runtime]
    print(
        f"cold import from the layers of {FRAMEWORK_FUNCTION} built for this machine, median of {SAMPLES}"
        " (with / without .pyc):"
    )
    for statement in FRAMEWORK_IMPORTS.values():
        timed = [
            _median_import(python, paths, statement, bytecode=bytecode, home=scratch / "home")
            for paths, bytecode in ((with_pyc, True), (bare, False))
        ]
        print(f"  {statement.removeprefix('import ')}: {timed[0]:.2f} s / {timed[1]:.2f} s")


def main() -> None:
    if sys.version_info[:2] != LAMBDA_PYTHON:
        version = ".".join(map(str, LAMBDA_PYTHON))
        raise SystemExit(
            f"this interpreter compiles the layers' bytecode: run the benchmark on Python {version}"
        )
    layer_ids = makefile_layers()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        _report_sizes(build_layers(layer_ids, scratch / "lambda", for_lambda=True))
        here = build_layers(layer_ids, scratch / "here")
        _report_imports(here, runtime_stand_in(scratch / "runtime"), scratch / "bare")


if __name__ == "__main__":
    main()
