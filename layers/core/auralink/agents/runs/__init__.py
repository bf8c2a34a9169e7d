"""Durable runs: one row in `workflow_executions`, advanced step by step by the state machine."""
