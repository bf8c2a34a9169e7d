"""SnapStart hooks: what a restored container must not share with the one that took the snapshot.

Lambda SnapStart restores many containers from one initialised snapshot. Connections, cached
secrets (which may have rotated since) and random state must not be cloned into all of them.
The runtime ships `snapshot_restore_py`; elsewhere (tests, the local runtime) registration is a
no-op.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def after_restore(hook: Callable[[], None]) -> Callable[[], None]:
    """Register ``hook`` to run in every container restored from a snapshot; returns it unchanged."""
    try:
        import snapshot_restore_py  # noqa: PLC0415  # shipped by the Lambda runtime only
    except ImportError:
        return hook
    snapshot_restore_py.register_after_restore(hook)
    return hook


def before_snapshot(hook: Callable[[], object]) -> Callable[[], object]:
    """Register ``hook`` to run once before the snapshot is taken (what it loads is in every
    restored container for free); returns it unchanged."""
    try:
        import snapshot_restore_py  # noqa: PLC0415  # shipped by the Lambda runtime only
    except ImportError:
        return hook
    snapshot_restore_py.register_before_snapshot(hook)
    return hook


def _reseed_random() -> None:
    # `random` would otherwise produce the same sequence in every restored container (the
    # `secrets` module and os.urandom are not affected: they draw from the kernel).
    random.seed()


after_restore(_reseed_random)
