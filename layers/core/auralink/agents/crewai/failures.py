"""What a crew's failure tells the run's owner: the gateway's own error when a model call
through the API failed, else a failure of the crew."""

from __future__ import annotations

import openai

from auralink.agents.runs.models import RunError


def run_error(exc: BaseException) -> RunError:
    for cause in _chain(exc):
        if isinstance(cause, openai.APIStatusError):
            body = cause.body if isinstance(cause.body, dict) else {}
            error = body.get("error", body) if isinstance(body, dict) else {}
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            return RunError(
                code=str(code or f"llm_http_{cause.status_code}"),
                message=str(message or "A model call failed"),
            )
        if isinstance(cause, openai.APITimeoutError):
            return RunError(code="llm_timeout", message="A model call took longer than the step allowed")
        if isinstance(cause, openai.APIConnectionError):
            return RunError(code="llm_unreachable", message="The LLM gateway could not be reached")
    return RunError(code="crew_error", message="A member of the crew failed")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
