"""Agents: tools, workflows, teams, flows, and the framework-neutral run machinery.

Framework imports (LangGraph, AutoGen, Prefect) stay inside the modules that need them, so that
importing this package costs nothing.
"""
