"""How a crew reaches the product from its own environment: the API, with the run's token.

Models are called through the LLM gateway's OpenAI-compatible endpoint and tools through
`POST /api/v1/agents/tools/call`: the same limits, breaker, operation log, metrics and prices as
every other caller, each call recorded against the run. The token acts for the run's user, for
this run, for no longer than the step.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

import certifi
import httpx
import openai

OPENAI_PATH = "/api/v1/llm/openai/v1"
TOOLS_PATH = "/api/v1/agents/tools/call"
# The API's own limit on a call (API Gateway gives up at 30 s).
MAX_CALL_S = 30.0
# Loading the CA bundle into a TLS context takes ~25 ms: once per execution environment, not per
# step (the context holds no state of a run).
_TLS = ssl.create_default_context(cafile=certifi.where())


class RunApi:
    def __init__(self, base_url: str, token: str, *, deadline: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.deadline = deadline
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            follow_redirects=False,
            verify=_TLS,
        )
        self._models_http = httpx.Client(follow_redirects=False, verify=_TLS)

    @property
    def openai_base_url(self) -> str:
        return self.base_url + OPENAI_PATH

    def openai_client(self) -> openai.OpenAI:
        """An OpenAI client of the gateway's endpoint for this step: the run's token and deadline,
        no retries of its own (the gateway retries what can be retried)."""
        return openai.OpenAI(
            api_key=self.token,
            base_url=self.openai_base_url,
            timeout=max(self.remaining_s(), 1.0),
            max_retries=0,
            http_client=self._models_http,
        )

    def remaining_s(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    def call_tool(self, tool: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """The text a model reads of the call, and whether the call failed. A failure, the
        tool's or the API's, is text for the model to act on: the run goes on."""
        timeout = min(MAX_CALL_S, max(self.remaining_s(), 1.0))
        try:
            answer = self._client.post(
                TOOLS_PATH, json={"tool": tool, "arguments": arguments}, timeout=timeout
            )
        except httpx.HTTPError as exc:
            return f"Error (tool_unreachable): the tool could not be called ({type(exc).__name__})", True
        body = _json(answer)
        if answer.status_code != httpx.codes.OK:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            code = error.get("code", f"http_{answer.status_code}")
            return f"Error ({code}): {error.get('message', 'the tool call was refused')}", True
        if body.get("is_error"):
            return f"Error ({body.get('error_code')}): {body.get('text', '')}", True
        return str(body.get("text", "")), False

    def close(self) -> None:
        self._client.close()
        self._models_http.close()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}
