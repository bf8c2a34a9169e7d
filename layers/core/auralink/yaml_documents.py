"""The YAML of the service's own files (the MCP configuration, the models and their prices),
parsed by LibYAML when PyYAML has it, as its Lambda wheels do: about a tenth of the pure-Python
parser's time (the models file: 2.4 against 21 ms at a cold start). Imported by the requests that
read one of those files, not at init."""

from __future__ import annotations

from typing import Any

import yaml

# The same constructor and resolver as `yaml.SafeLoader`, on LibYAML's scanner and parser.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YAMLError = yaml.YAMLError


def safe_load(text: str) -> Any:
    """The document in ``text``, as `yaml.safe_load` reads it; `YAMLError` when it is not YAML."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506  # a safe loader, LibYAML's or PyYAML's
