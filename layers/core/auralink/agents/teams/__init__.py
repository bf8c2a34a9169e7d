"""Teams: a user's agents that collaborate, defined once for both frameworks (AutoGen, CrewAI).

The definition (`models`) and its checks (`validation`) are pure Python, so the API functions and
the executors share them without importing any agent framework.
"""
