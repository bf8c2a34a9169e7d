"""Write a framework layer's requirements: its pinned packages minus those earlier layers ship.

A function sees its layers side by side in one /opt/python, so a package in two would be shipped
twice and one copy would shadow the other; a framework layer keeps only what the core layer and
the framework layers before it in the run step (their requirements files) do not ship.
Usage: python -m infra.layer_requirements <full.txt> <shipped.txt>... <out.txt>
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==")


def _name(line: str) -> str | None:
    match = _PIN.match(line)
    return re.sub(r"[-_.]+", "-", match[1]).lower() if match else None


def subtract(full: str, *shipped_by_others: str) -> str:
    shipped = {name for text in shipped_by_others for line in text.splitlines() if (name := _name(line))}
    kept = [line for line in full.splitlines() if (name := _name(line)) and name not in shipped]
    header = "# Pinned by `make lock`: the packages this layer adds to the layers before it.\n"
    return header + "\n".join(kept) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        raise SystemExit("usage: python -m infra.layer_requirements <full.txt> <shipped.txt>... <out.txt>")
    full, *shipped, out = (Path(arg) for arg in argv)
    out.write_text(subtract(full.read_text(), *(path.read_text() for path in shipped)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
