"""The layers as `sam build` makes them, built for this machine, and a clean interpreter to run them.

`build_layers` runs the Makefile's `build-<LayerId>` targets (the ones `sam build` runs for Lambda)
for the host: the venv's Python version and platform, into a folder of the caller's, with the
Makefile's wheel cache. `Artifacts.run` starts the venv's base interpreter without the venv, its
own site-packages or the environment's PYTHON* variables, with only the given folders on
`sys.path`: what a Lambda function sees of Python.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from infra.template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
# A test's limit here: the first test's setup builds every layer (downloading the wheels on a
# fresh clone) and, for the functions, starts each function once, with the other worker busy.
SETUP_TIMEOUT_S = 600
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
# Lambda's Python runtime ships boto3 with its dependencies; the layers leave them out.
RUNTIME_PACKAGES = ("boto3",)
# The sub-make must not join a jobserver or inherit flags of a `make test` that started pytest.
_MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


@dataclass(frozen=True)
class Artifacts:
    python: Path
    """The venv's base interpreter (the venv's Python version, none of its packages)."""
    layers: Mapping[str, Path]
    """Each layer's logical id -> its built `python` folder (what Lambda mounts at /opt/python)."""
    runtime: Path
    """boto3, botocore and their dependencies, standing in for what Lambda's runtime provides."""

    def sys_path(self, *folders: Path, layers: Iterable[str] = ()) -> list[Path]:
        """`folders` (a function's code), then the named layers, then the runtime's packages."""
        return [*folders, *(self.layers[layer_id] for layer_id in layers), self.runtime]

    def run(
        self,
        sys_path: Sequence[Path],
        code: str,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> Any:
        """Run `code` with only `sys_path` (and the standard library) importable; its last line
        printed to stdout must be JSON, which is returned. A failure raises with the output."""
        prelude = "import sys, json; sys.path[:0] = json.loads(sys.argv[1]); del sys.argv[1]\n"
        completed = subprocess.run(
            # -I: no PYTHON* variables, no user site, no current folder; -S: no site-packages at all.
            [str(self.python), "-I", "-S", "-c", prelude + code, json.dumps([str(p) for p in sys_path])],
            env=dict(env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if completed.returncode != 0:
            raise AssertionError(f"the clean interpreter failed:\n{completed.stdout}\n{completed.stderr}")
        return json.loads(completed.stdout.splitlines()[-1])


def base_interpreter() -> Path:
    """The interpreter the venv was made from: same version, no venv."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    python = Path(sys.base_prefix) / "bin" / version
    if not python.exists():
        raise RuntimeError(f"the venv's base interpreter is not at {python}")
    return python


def makefile_layers(template_path: Path = ROOT / "template.yaml") -> list[str]:
    """The template's layers that `sam build` builds with the Makefile."""
    layers = resources_of_type(load_template(template_path), SERVERLESS_LAYER)
    return sorted(
        layer_id
        for layer_id, layer in layers.items()
        if layer.get("Metadata", {}).get("BuildMethod") == "makefile"
    )


def build_layers(layer_ids: Iterable[str], into: Path, *, for_lambda: bool = False) -> dict[str, Path]:
    """`make build-<LayerId>` for each layer, side by side: into/<LayerId>/python.

    For this machine, or with `for_lambda` for the Makefile's Lambda platforms (arm64), whose
    native code this machine may not run: for sizes, not for imports. Either way this interpreter
    compiles the bytecode, so it must be the runtime's Python version for Lambda's build.
    """
    env = {name: value for name, value in os.environ.items() if name not in _MAKE_VARIABLES}
    platforms = [] if for_lambda else ["LAYER_PLATFORMS="]
    builds = {
        layer_id: subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                f"build-{layer_id}",
                f"ARTIFACTS_DIR={into / layer_id}",
                f"LAYER_PYTHON={sys.executable}",
                *platforms,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for layer_id in layer_ids
    }
    failed = []
    for layer_id, build in builds.items():
        output, _ = build.communicate(timeout=600)
        if build.returncode != 0:
            failed.append(f"make build-{layer_id} failed:\n{output}")
    if failed:
        raise RuntimeError("\n".join(failed))
    return {layer_id: into / layer_id / "python" for layer_id in builds}


def runtime_stand_in(into: Path) -> Path:
    """A folder of links to the venv's boto3 and every distribution it needs (the dev lock's pins)."""
    into.mkdir(parents=True, exist_ok=True)
    for dist in _closure(RUNTIME_PACKAGES):
        site = Path(str(dist.locate_file("")))
        for entry in {Path(str(file)).parts[0] for file in dist.files or ()}:
            if entry not in {"..", "__pycache__"} and not (into / entry).exists():
                (into / entry).symlink_to(site / entry)
    return into


def _closure(names: Iterable[str]) -> list[metadata.Distribution]:
    found: dict[str, metadata.Distribution] = {}
    pending = list(names)
    while pending:
        dist = metadata.distribution(pending.pop())
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in found:
            continue
        found[key] = dist
        for line in dist.requires or ():
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return list(found.values())


def distributions(folder: Path) -> set[str]:
    """The normalised names of the distributions installed in a folder."""
    return {path.name.split("-")[0].lower().replace("_", "-") for path in folder.glob("*.dist-info")}


def unzipped_size(folder: Path) -> int:
    """What Lambda counts of a folder against its unzipped limit: the bytes of its files."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
