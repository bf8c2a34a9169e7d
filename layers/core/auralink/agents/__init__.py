"""Agents: tools, workflows, their runs on LangGraph, and the framework-neutral run machinery.

Framework imports (LangGraph) stay inside the modules that need them, so that importing this
package costs nothing.
"""
