"""Median latency of one tool call with a fresh client each time, on each revision (50 calls).

The figures are printed, not asserted tightly: timing belongs to benchmarks, not to the gate.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from auralink.mcp import client
from auralink.mcp.client import McpTarget

CALLS = 50
DEADLINE_S = 5.0


def _median_ms(target: McpTarget, arguments: dict[str, str]) -> tuple[float, float]:
    client.call_tool(target, "echo", arguments, deadline_s=DEADLINE_S)  # warm the server up
    samples = []
    for _ in range(CALLS):
        started = time.perf_counter()
        result = client.call_tool(target, "echo", arguments, deadline_s=DEADLINE_S)
        samples.append((time.perf_counter() - started) * 1000)
        assert result.is_error is False
    return statistics.median(samples), max(samples)


def test_median_latency_per_revision(legacy_mcp, stateless_mcp, everything_mcp, capsys):
    stored = client.discover(McpTarget(stateless_mcp.url, {}), deadline_s=DEADLINE_S).discover_result
    ours = {"text": "x"}
    cases = {
        "2025-11-25, pinned (handshake, GET stream, DELETE)": (
            McpTarget(legacy_mcp.url, {}, "2025-11-25"),
            ours,
        ),
        "2025-11-25, auto (refused probe, then handshake)": (McpTarget(legacy_mcp.url, {}), ours),
        "2026-07-28, stored discover result (one POST)": (
            McpTarget(stateless_mcp.url, {}, "auto", stored),
            ours,
        ),
        "2026-07-28, auto (probe, then call)": (McpTarget(stateless_mcp.url, {}), ours),
        "npm server-everything, 2025-11-25, auto": (McpTarget(everything_mcp.url, {}), {"message": "x"}),
    }
    lines = []
    for label, (target, arguments) in cases.items():
        median, worst = _median_ms(target, arguments)
        lines.append(f"  {label:55s} median {median:6.1f} ms   max {worst:6.1f} ms")
        assert median < 1000
    with capsys.disabled():
        print(f"\ncall_tool with a fresh client, {CALLS} calls each:\n" + "\n".join(lines))


@pytest.mark.parametrize("protocol", ["2025-11-25", "2026-07-28"])
def test_calls_from_threads_do_not_share_state(legacy_mcp, stateless_mcp, protocol):
    # Each call runs its own event loop: calls from several threads at once all succeed.
    server = legacy_mcp if protocol == "2025-11-25" else stateless_mcp
    target = McpTarget(server.url, {}, protocol)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda i: client.call_tool(target, "echo", {"text": str(i)}, deadline_s=DEADLINE_S), range(24)
            )
        )

    assert [result.content[0]["text"] for result in results] == [str(i) for i in range(24)]
