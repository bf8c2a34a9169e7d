"""Pipelines: a user's steps (MCP and catalog tools, model calls, workflow and team runs, maps and
conditions) ordered by what each waits for, validated and stored.

The definition language (`definition`) reuses the workflows' templates and expressions and is
pure Python, so the API functions and the run machinery share it without importing Prefect.
"""
