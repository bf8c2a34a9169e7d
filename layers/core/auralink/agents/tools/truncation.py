"""Tool results cut to what a run keeps: `MAX_TOOL_RESULT_BYTES` of text, and as much of data.

A run keeps what its tools answered (a node's output, the checkpoints, an agent's conversation),
and an MCP server may answer megabytes. Past the cap the result is replaced by a visible stand-in,
so that the agent, the workflow and the user all see that something was cut, and how much:

- text keeps its first bytes (whole characters), followed by a line
  ``[truncated: N bytes, the first M kept]``;
- structured content becomes ``{"truncated": true, "original_bytes": N, "max_bytes": M,
  "preview": "<the start of its JSON>"}``, itself within the cap.
"""

from __future__ import annotations

import json
from typing import Any

# UTF-8 takes at most 4 bytes a character: text this short needs no encoding to be measured.
_MAX_BYTES_PER_CHAR = 4
# JSON escaping at most doubles the preview (quotes and backslashes of the JSON it quotes).
_PREVIEW_SHARE = 4


def cut_text(text: str, max_bytes: int) -> str:
    if len(text) * _MAX_BYTES_PER_CHAR <= max_bytes:
        return text
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    kept = data[:max_bytes].decode(errors="ignore")
    return f"{kept}\n[truncated: {len(data)} bytes, the first {len(kept.encode())} kept]"


def cut_structured(value: Any, max_bytes: int) -> Any:
    if value is None:
        return None
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    if len(data) <= max_bytes:
        return value
    return {
        "truncated": True,
        "original_bytes": len(data),
        "max_bytes": max_bytes,
        "preview": data[: max_bytes // _PREVIEW_SHARE].decode(errors="ignore"),
    }
