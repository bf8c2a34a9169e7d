"""What CrewStepFunction's image holds, computed: no image is built without Docker.

What the Dockerfile puts in /var/task: the packages of requirements/crewai.lock less boto3,
botocore and s3transfer (Lambda's runtime provides them), installed wheels only for Lambda's arm64
with their bytecode, and the auralink package with its configuration and SQL, compiled, as the
Dockerfile's other instructions lay it out (`infra.local.dockerfile`). The base image
(public.ecr.aws/lambda/python:3.13) comes on top.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from infra.local.dockerfile import assemble
from tests.packaging.artifacts import unzipped_size
from tests.support.crew import crew_python

ROOT = Path(__file__).resolve().parents[1]
# The Dockerfile's filter: what Lambda's runtime provides stays out of the image's packages.
PROVIDED = re.compile(r"^(boto3|botocore|s3transfer)==")
LAMBDA_PLATFORM = "aarch64-manylinux_2_34"


def _image_packages(python: Path, into: Path, scratch: Path) -> None:
    """The lock's packages as the Dockerfile installs them, for Lambda's arm64."""
    requirements = scratch / "requirements.txt"
    lock = (ROOT / "requirements" / "crewai.lock").read_text(encoding="utf-8")
    requirements.write_text(
        "".join(line for line in lock.splitlines(keepends=True) if not PROVIDED.match(line))
    )
    uv = ROOT / ".venv" / "bin" / "uv"
    subprocess.run(
        [
            str(uv),
            "pip",
            "install",
            "--no-config",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--python",
            str(python),
            "--python-platform",
            LAMBDA_PLATFORM,
            "--compile-bytecode",
            "--target",
            str(into),
            "-r",
            str(requirements),
        ],
        check=True,
    )


def main() -> None:
    python = crew_python()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        _image_packages(python, scratch / "task", scratch)
        target = scratch / "task"
        packages = unzipped_size(target)
        parts = sorted(((unzipped_size(p), p.name) for p in target.iterdir() if p.is_dir()), reverse=True)
        installed = len(list(target.glob("*.dist-info")))
        # The rest of /var/task as the Dockerfile's own COPY and RUN instructions lay it out.
        dockerfile = ROOT / "functions" / "steps" / "crew_step" / "Dockerfile"
        laid_out = assemble(dockerfile, ROOT, scratch / "ours", python=python, scratch=scratch / "copied")
        ours = unzipped_size(laid_out.folder / "auralink")
    print(f"CrewStepFunction's /var/task, computed for {LAMBDA_PLATFORM} (the base image comes on top):")
    print(
        f"  {installed} packages of the lock (less boto3, botocore, s3transfer), with bytecode:"
        f" {packages / 1e6:.1f} MB"
    )
    print("  largest: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for size, name in parts[:8]))
    print(f"  the auralink package with its configuration and SQL, bytecode: {ours / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
