"""Modules that load at their first use rather than where a library imports them.

For a module that a library imports at its top but that requests rarely use, `defer` makes the
import hand back a module whose code runs at its first attribute access (`importlib.util.LazyLoader`):
the program behaves the same, and a container that never uses the module never pays for it. A
module already imported is left as it is.

`cryptography.x509` is the one deferred (`auralink.auth`): PyJWT imports it at the top of
`jwt.algorithms` (14-18 ms of a cold start; its name parser compiles regular expressions) and uses
it only to refuse a certificate given as an HMAC secret. The service's RS256 and ES256 tokens never
reach that check; the HS256 tokens of development and of the hosted MCP servers load it at the
first one signed or verified.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

_lock = threading.Lock()


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds the deferred modules as the path finder does, behind a `LazyLoader`."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


_finder = _DeferringFinder()


def defer(name: str) -> None:
    """Have the import of ``name``, from now on, load its code at its first attribute access."""
    with _lock:
        _finder.names.add(name)
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
