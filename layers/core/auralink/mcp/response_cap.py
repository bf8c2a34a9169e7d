"""The cap on what one MCP call may receive, counted on the wire as the answers arrive.

A `ResponseMeter` belongs to one call (probe or handshake, tools/list pages, the call itself,
error bodies: every answer of every request the call makes). `CappedTransport` wraps the HTTP
transport the SDK's client uses, the SSRF-guarded one included, and counts each chunk of each
answer before anything reads it. An answer that announces more than is left is refused from its
headers; a streamed one is cut as soon as the count passes the cap. Either way the connection is
closed at once (the server sees it drop) and the meter cancels the whole call: the SDK reads
some answers (SSE streams) in tasks that swallow errors, so raising alone would leave the call
waiting for its deadline.

Answers are asked for without content coding (``Accept-Encoding: identity``), so that the bytes
counted are the bytes the client holds; a compressed answer is refused, since a small body could
inflate without bound.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx2

from auralink.mcp.errors import PROTOCOL_ERROR, RESPONSE_TOO_LARGE, McpUpstreamError


class AnswerRefused(Exception):
    """Raised inside the HTTP stack once the meter refused an answer; the meter holds the error."""


class ResponseMeter:
    """The bytes one call received, against its cap; `refusal` is set once an answer is refused."""

    def __init__(self, max_bytes: int, operation: str) -> None:
        self.max_bytes = max_bytes
        self.operation = operation
        self.received = 0
        self.refusal: McpUpstreamError | None = None
        # Set by the call's runner: ends the whole call (every task of the SDK's client).
        self.on_refusal: Callable[[], object] = lambda: None

    def refuse(self, error: McpUpstreamError) -> AnswerRefused:
        if self.refusal is None:
            self.refusal = error
            self.on_refusal()
        return AnswerRefused(error.message)

    def too_large(self) -> AnswerRefused:
        return self.refuse(
            McpUpstreamError(
                f"The MCP server's answer to {self.operation} passed the cap of {self.max_bytes} bytes",
                code=RESPONSE_TOO_LARGE,
                details={"max_response_bytes": self.max_bytes},
            )
        )

    def passes(self, size: int) -> bool:
        """Whether ``size`` more bytes would pass the cap."""
        return self.received + size > self.max_bytes


class CappedTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, meter: ResponseMeter) -> None:
        self._inner = inner
        self._meter = meter

    @property
    def meter(self) -> ResponseMeter:
        return self._meter

    @meter.setter
    def meter(self, meter: ResponseMeter) -> None:
        # A client kept open across calls (`auralink.mcp.session_pool`) counts each call anew.
        self._meter = meter

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._meter.refusal is not None:
            # The SDK may still try (a GET stream, a reconnect, the closing DELETE): nothing more goes out.
            raise AnswerRefused(self._meter.refusal.message)
        request.headers["Accept-Encoding"] = "identity"
        response = await self._inner.handle_async_request(request)
        refused = self._screen(response.headers)
        if refused is not None:
            await response.aclose()
            raise refused
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        response.stream = _CountedStream(response.stream, self._meter)
        return response

    def _screen(self, headers: httpx2.Headers) -> AnswerRefused | None:
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            return self._meter.refuse(
                McpUpstreamError(
                    "The MCP server sent a compressed answer where none was asked for",
                    code=PROTOCOL_ERROR,
                )
            )
        declared = headers.get("content-length", "")
        if declared.isdigit() and self._meter.passes(int(declared)):
            return self._meter.too_large()
        return None

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CountedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, meter: ResponseMeter) -> None:
        self._inner = inner
        self._meter = meter

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            if self._meter.passes(len(chunk)):
                # Closed before anything else happens: an unfinished answer's connection is
                # dropped, not returned to the pool, and the server stops sending.
                await self._inner.aclose()
                raise self._meter.too_large()
            self._meter.received += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()
