"""Workflows: a user's graphs of llm, agent, tool, condition and human nodes, validated and stored.

The definition language (`definition`), its templates and condition expressions are pure Python,
so the API functions and the run step share them without importing any agent framework.
"""
