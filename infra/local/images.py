"""Image functions on the local runtime: each in the interpreter of an environment of its own.

An image function (`PackageType: Image`) brings an environment that the main virtualenv cannot
hold (CrewAI pins mcp<2 and pydantic<2.13). Locally its handler runs in the virtualenv that `make`
creates from the lock its image installs, with the function's folder and the repository's
`layers/core` (the auralink package the image copies) on its path: the image's /var/task, read
from the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.template import FunctionSpec

# Where the image keeps the auralink package, relative to the repository.
PACKAGE_SOURCE = Path("layers/core")


@dataclass(frozen=True)
class ImageEnvironment:
    virtualenv: str  # relative to the repository
    make_target: str  # what creates it

    def interpreter(self, root: Path) -> Path:
        return root / self.virtualenv / "bin" / "python"


# By function: the Makefile's IMAGE_FUNCTIONS, each with the virtualenv made from its image's lock.
IMAGE_ENVIRONMENTS = {
    "CrewStepFunction": ImageEnvironment(virtualenv=".venv-crewai", make_target="crew-venv"),
}


class MissingImageEnvironment(LookupError):
    """An image function of the template has no local environment declared here."""


def image_environment(spec: FunctionSpec) -> ImageEnvironment:
    environment = IMAGE_ENVIRONMENTS.get(spec.logical_id)
    if environment is None:
        raise MissingImageEnvironment(
            f"{spec.logical_id} is an image function with no local environment: add it to"
            " infra.local.images.IMAGE_ENVIRONMENTS and to the Makefile"
        )
    return environment


def image_paths(root: Path) -> tuple[Path, ...]:
    """What an image function finds after its own folder: the auralink package."""
    return (root / PACKAGE_SOURCE,)
