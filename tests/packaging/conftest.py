"""The layers built once per session by the Makefile's targets, for this machine (see artifacts.py).

The first build on a machine downloads the wheels into the Makefile's cache (`.data/wheels`); the
following ones install from it without the network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.artifacts import (
    Artifacts,
    base_interpreter,
    build_layers,
    makefile_layers,
    runtime_stand_in,
)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    """Each layer's built `python` folder, the stand-in for the runtime's boto3, the interpreter."""
    folder: Path = tmp_path_factory.mktemp("artifacts")
    return Artifacts(
        python=base_interpreter(),
        layers=build_layers(makefile_layers(), folder / "layers"),
        runtime=runtime_stand_in(folder / "runtime"),
    )
