"""An image function's task root as its Dockerfile makes it, without Docker.

The packaging tests run the crew step from the folder that its Dockerfile's instructions lay out
(what the image holds in /var/task), not from the repository's source: each `COPY` is done, with
`${LAMBDA_TASK_ROOT}` standing for that folder, and each `RUN` is run there by `bash`, with the
image's interpreter first on `PATH`. A `RUN` that installs packages with pip is not: the packages
are those of the lock it installs, and the environment `make` creates from the same lock provides
them. The base image must be AWS's Lambda Python image; an instruction this does not follow
(`ENV`, `WORKDIR`, `ARG`...) is refused by name, so that the Dockerfile cannot drift from what is
tested without the tests saying so.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LAMBDA_BASE_IMAGE = "public.ecr.aws/lambda/python:"
_TASK_ROOT = "${LAMBDA_TASK_ROOT}"
# How long one RUN may take (compiling the package's bytecode takes seconds).
_RUN_TIMEOUT_S = 300


class UnsupportedDockerfile(ValueError):
    """The Dockerfile uses something that cannot be done here as Docker would do it."""


@dataclass(frozen=True)
class Instruction:
    keyword: str
    argument: str


@dataclass(frozen=True)
class TaskRoot:
    folder: Path
    handler: str  # the image's CMD
    skipped: tuple[str, ...]  # the RUN commands left to the environment made from the lock


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions in order: continuation lines joined, comments dropped."""
    found: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        whole = pending + stripped
        pending = ""
        keyword, _, argument = whole.partition(" ")
        found.append(Instruction(keyword.upper(), argument.strip()))
    if pending:
        raise UnsupportedDockerfile("the Dockerfile ends inside a continued line")
    return found


def assemble(dockerfile: Path, context: Path, into: Path, *, python: Path, scratch: Path) -> TaskRoot:
    """Lay out ``into`` as the image's task root; ``scratch`` takes what is copied elsewhere
    (/tmp...), ``python`` is the interpreter of the environment made from the image's lock."""
    into.mkdir(parents=True, exist_ok=True)
    handler = ""
    skipped: list[str] = []
    for instruction in instructions(dockerfile.read_text(encoding="utf-8")):
        if instruction.keyword == "FROM":
            if not instruction.argument.startswith(LAMBDA_BASE_IMAGE):
                known = f"only {LAMBDA_BASE_IMAGE}* is known"
                raise UnsupportedDockerfile(f"FROM {instruction.argument}: {known}")
        elif instruction.keyword == "COPY":
            _copy(instruction.argument, context, into, scratch)
        elif instruction.keyword == "RUN":
            if instruction.argument.startswith("["):
                raise UnsupportedDockerfile(f"RUN {instruction.argument}: only the shell form is followed")
            if _installs_packages(instruction.argument):
                skipped.append(instruction.argument)
            else:
                _run(instruction.argument, into, python)
        elif instruction.keyword == "CMD":
            command = json.loads(instruction.argument)
            if not (isinstance(command, list) and len(command) == 1 and isinstance(command[0], str)):
                raise UnsupportedDockerfile(f"CMD {instruction.argument}: a handler is expected")
            handler = command[0]
        else:
            raise UnsupportedDockerfile(f"{instruction.keyword} is not followed here")
    if not handler:
        raise UnsupportedDockerfile("the Dockerfile names no handler (CMD)")
    return TaskRoot(folder=into, handler=handler, skipped=tuple(skipped))


def _installs_packages(command: str) -> bool:
    return "pip install" in command


def _destination(raw: str, into: Path, scratch: Path) -> Path:
    if raw.startswith(_TASK_ROOT):
        return into / raw.removeprefix(_TASK_ROOT).lstrip("/")
    if "$" in raw or not raw.startswith("/"):
        raise UnsupportedDockerfile(f"COPY to {raw}: only ${{LAMBDA_TASK_ROOT}} and absolute paths are known")
    return scratch / raw.lstrip("/")


def _copy(argument: str, context: Path, into: Path, scratch: Path) -> None:
    *sources, raw_destination = argument.split()
    if not sources or any(source.startswith("--") for source in sources):
        raise UnsupportedDockerfile(f"COPY {argument}: sources and a destination are expected, no flags")
    destination = _destination(raw_destination, into, scratch)
    paths = [Path(path) for source in sources for path in sorted(glob.glob(str(context / source)))]
    if not paths:
        raise UnsupportedDockerfile(f"COPY {argument}: nothing in the context matches")
    # As Docker: into the folder when the destination ends with "/" or there are several sources.
    as_folder = raw_destination.endswith("/") or len(paths) > 1
    for path in paths:
        if path.is_dir():
            ignored = shutil.ignore_patterns("__pycache__")
            shutil.copytree(path, destination, dirs_exist_ok=True, ignore=ignored)
        else:
            target = destination / path.name if as_folder else destination
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def _run(command: str, into: Path, python: Path) -> None:
    environment = {
        **os.environ,
        "LAMBDA_TASK_ROOT": str(into),
        "PATH": os.pathsep.join([str(python.parent), os.environ.get("PATH", "")]),
    }
    environment.pop("PYTHONPATH", None)
    bash = shutil.which("bash") or "/bin/bash"
    # As Docker runs a RUN (`sh -c`): the Dockerfile's own command, from the repository.
    result = subprocess.run(  # noqa: S603
        [bash, "-c", command],
        cwd=into,
        env=environment,
        capture_output=True,
        text=True,
        timeout=_RUN_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"RUN {command!r} failed ({result.returncode}):\n{result.stderr[-2000:]}")
