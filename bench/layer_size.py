"""Unzipped size of the core and LangGraph layers, built the way `sam build` builds them (with
bytecode); the run step function carries both, against Lambda's 250 MB limit.

The layer's pinned requirements (without boto3/botocore, which Lambda provides) are installed
into a temporary `python/` folder with our package, the MCP configuration and the migrations,
then compiled; the size is what Lambda counts against its 250 MB limit.
"""

from __future__ import annotations

import compileall
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def _install(requirements: Path, python: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--no-deps",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
            "-t",
            str(python),
        ],
        check=True,
    )


def build(target: Path) -> Path:
    python = target / "python"
    _install(ROOT / "layers/core/requirements.txt", python)
    shutil.copytree(ROOT / "layers/core/auralink", python / "auralink", dirs_exist_ok=True)
    for config in (ROOT / "shared/configs").glob("*.yaml"):
        shutil.copy(config, python / "auralink/config" / config.name)
    for folder in ("migrations", "seeds"):
        shutil.copytree(ROOT / "infra/db" / folder, python / "auralink/db/sql" / folder, dirs_exist_ok=True)
    compileall.compile_dir(python, quiet=1, workers=0)
    return python


def build_langgraph(target: Path) -> Path:
    python = target / "python"
    _install(ROOT / "layers/langgraph/requirements.txt", python)
    compileall.compile_dir(python, quiet=1, workers=0)
    return python


def _report(name: str, python: Path) -> int:
    total = _size(python)
    print(f"{name} layer unzipped: {total / 1e6:.1f} MB")
    biggest = sorted(((_size(p), p.name) for p in python.iterdir() if p.is_dir()), reverse=True)[:6]
    print("  largest: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for size, name in biggest))
    return total


def main() -> None:
    with tempfile.TemporaryDirectory() as core_folder, tempfile.TemporaryDirectory() as graph_folder:
        core = build(Path(core_folder))
        core_total = _report("core", core)
        print(f"  (auralink itself {_size(core / 'auralink') / 1e6:.2f} MB)")
        graph_total = _report("langgraph", build_langgraph(Path(graph_folder)))
        print(f"run step function (core + langgraph): {(core_total + graph_total) / 1e6:.1f} MB of 250 MB")


if __name__ == "__main__":
    main()
