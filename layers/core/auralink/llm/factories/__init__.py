"""Model interfaces of the agent frameworks on top of the gateway: the same models, keys, retries,
prices and metrics as `POST /api/v1/llm/chat`.

Each module imports its framework; import the one you need (`factories.langchain`,
`factories.autogen`), never this package's siblings from API code.
"""

from __future__ import annotations

import time

# One model call may take this long at most, unless the caller's own deadline is nearer.
CALL_TIMEOUT_S = 60.0


def seconds_left(deadline: float | None) -> float:
    """Seconds until ``deadline`` (a ``time.monotonic()`` value), capped by one call's timeout."""
    if deadline is None:
        return CALL_TIMEOUT_S
    return min(CALL_TIMEOUT_S, deadline - time.monotonic())
