"""Unzipped size of the core layer, built the way `sam build` builds it (with bytecode).

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


def build(target: Path) -> Path:
    python = target / "python"
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
            str(ROOT / "layers/core/requirements.txt"),
            "-t",
            str(python),
        ],
        check=True,
    )
    shutil.copytree(ROOT / "layers/core/auralink", python / "auralink", dirs_exist_ok=True)
    for config in (ROOT / "shared/configs").glob("*.yaml"):
        shutil.copy(config, python / "auralink/config" / config.name)
    for folder in ("migrations", "seeds"):
        shutil.copytree(ROOT / "infra/db" / folder, python / "auralink/db/sql" / folder, dirs_exist_ok=True)
    compileall.compile_dir(python, quiet=1, workers=0)
    return python


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        python = build(Path(folder))
        total = _size(python)
        ours = _size(python / "auralink")
        print(f"core layer unzipped: {total / 1e6:.1f} MB (auralink itself {ours / 1e6:.2f} MB)")
        biggest = sorted(((_size(p), p.name) for p in python.iterdir() if p.is_dir()), reverse=True)[:6]
        print("  largest: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for size, name in biggest))


if __name__ == "__main__":
    main()
