"""Runs every benchmark and prints the figures that docs/benchmarks.md records."""

from __future__ import annotations

from bench import (
    aws_calls,
    cold_start,
    crew_image,
    crew_runs,
    db_transactions,
    layer_size,
    mcp_gateway,
    mcp_sessions,
    pipeline_runs,
    team_runs,
    tracing_exporters,
    workflow_runs,
)


def main() -> None:
    cold_start.main()
    aws_calls.main()
    tracing_exporters.main()
    layer_size.main()
    db_transactions.main()
    mcp_gateway.main()
    mcp_sessions.main()
    workflow_runs.main()
    team_runs.main()
    crew_runs.main()
    crew_image.main()
    pipeline_runs.main()


if __name__ == "__main__":
    main()
