"""The LLM gateway: provider and model registry, preferences with bring-your-own keys, chat, metrics.

Framework imports (LangChain, AutoGen) stay inside the model factories that need them.
"""
