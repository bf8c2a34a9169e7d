"""Workflow runs on LangGraph: a definition compiled to a graph, checkpointed in Postgres, advanced
one bounded step at a time by the run machinery. Only the run-step function imports this package."""
