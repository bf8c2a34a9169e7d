"""Quotas per user: runs at once and per hour, the service's LLM tokens and cost per day, the chat
route's calls per minute; refusals recorded, standing shown (docs/quotas.md)."""
