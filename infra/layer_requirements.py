"""Write a framework layer's requirements: its pinned packages minus those the core layer ships.

A function sees the core layer and its framework layer side by side, so a package in both would
be shipped twice and could shadow the core layer's pin; the framework layer keeps only the rest.
Usage: python -m infra.layer_requirements <full.txt> <core.txt> <out.txt>
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==")


def _name(line: str) -> str | None:
    match = _PIN.match(line)
    return re.sub(r"[-_.]+", "-", match[1]).lower() if match else None


def subtract(full: str, core: str) -> str:
    shipped = {name for line in core.splitlines() if (name := _name(line))}
    kept = [line for line in full.splitlines() if (name := _name(line)) and name not in shipped]
    header = "# Pinned by `make lock`: the packages this layer adds to the core layer.\n"
    return header + "\n".join(kept) + "\n"


def main(argv: list[str]) -> int:
    full, core, out = (Path(arg) for arg in argv)
    out.write_text(subtract(full.read_text(), core.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
