"""CrewAI's environment (`.venv-crewai`): the interpreter of CrewStepFunction on the local runtime.

`make test` and `make dev` create it from requirements/crewai.lock; a test that needs it and runs
without them has `make crew-venv` create it (about a second from uv's cache).
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from infra.local.images import IMAGE_ENVIRONMENTS

ROOT = Path(__file__).resolve().parents[2]
CREW_STEP = "CrewStepFunction"


@functools.cache
def crew_python() -> Path:
    """The interpreter of CrewAI's environment, created or brought up to date with its lock first."""
    environment = IMAGE_ENVIRONMENTS[CREW_STEP]
    subprocess.run(["make", "--no-print-directory", environment.make_target], cwd=ROOT, check=True)
    return environment.interpreter(ROOT)
