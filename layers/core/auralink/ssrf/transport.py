"""The HTTP transport of outbound calls, which checks every connection against the SSRF guard.

`guarded_transport` resolves the host of each new TCP connection itself, checks every address
with `auralink.ssrf.screen_host` and connects to a checked address: a DNS answer that changed
since `check_endpoint` ran (DNS rebinding), or a redirect that a client chose to follow, cannot
reach an address the guard refuses. Connections reused from the pool were checked when opened.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast

import anyio
import httpcore2
import httpx2

from auralink.ssrf import EndpointNotAllowed, Resolver, resolve, screen_host


def guarded_transport(
    *, allow_loopback: bool, resolver: Resolver = resolve, **options: Any
) -> httpx2.AsyncHTTPTransport:
    """An httpx2 transport whose every connection goes only to addresses the guard allows.

    ``options`` are `httpx2.AsyncHTTPTransport`'s (verify, limits, retries...), except ``proxy``
    and ``uds``: the guard checks the address a connection goes to, so neither may redirect it.
    A refused address fails the request with `httpx2.ConnectError` naming the address class;
    `refusal_of(error)` returns the `EndpointNotAllowed` behind it (None for a real network error),
    so that callers report it as such and do not retry it.
    Use it with ``httpx2.AsyncClient(transport=..., follow_redirects=False)``; a client given a
    transport also ignores proxy variables of the environment.
    """
    if "proxy" in options or "uds" in options:
        raise ValueError("a guarded transport connects directly: proxy and uds are not supported")
    transport = httpx2.AsyncHTTPTransport(**options)
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore2.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("this httpx2 version does not let the SSRF guard see its connections")
    # The pool hands its backend to every connection it opens; no public setting exposes it.
    pool._network_backend = cast(
        "httpcore2.AsyncNetworkBackend",
        _GuardedBackend(httpcore2.AnyIOBackend(), allow_loopback=allow_loopback, resolver=resolver),
    )
    return transport


def refusal_of(error: BaseException) -> EndpointNotAllowed | None:
    """The guard's refusal behind a failed request (``httpx2.ConnectError`` from `guarded_transport`)."""
    for current in _chain(error):
        refusal = (
            current if isinstance(current, EndpointNotAllowed) else getattr(current, "ssrf_refusal", None)
        )
        if isinstance(refusal, EndpointNotAllowed):
            return refusal
    return None


def unresolvable(error: BaseException) -> bool:
    """Whether a failed request's host did not resolve (a plain ``httpx2.ConnectError`` besides)."""
    return any(getattr(current, "ssrf_unresolvable", False) for current in _chain(error))


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and its causes (or contexts), each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        yield current
        seen.add(id(current))
        current = current.__cause__ or current.__context__


class _GuardedBackend:
    """An httpcore2 network backend that resolves and screens the host before connecting."""

    def __init__(
        self, inner: httpcore2.AsyncNetworkBackend, *, allow_loopback: bool, resolver: Resolver
    ) -> None:
        self._inner = inner
        self._allow_loopback = allow_loopback
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        deadline = None if timeout is None else anyio.current_time() + timeout
        with anyio.move_on_after(timeout) as scope:
            # A resolver stuck past the timeout is left behind rather than waited for.
            addresses = await anyio.to_thread.run_sync(self._screen, host, port, abandon_on_cancel=True)
        if scope.cancelled_caught:
            raise httpcore2.ConnectTimeout(f"resolving {host} timed out")
        last_error: Exception = httpcore2.ConnectError(f"{host} has no address")
        for address in addresses:
            remaining = None if deadline is None else max(deadline - anyio.current_time(), 0.0)
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last_error = exc
        raise last_error

    def _screen(self, host: str, port: int) -> tuple[str, ...]:
        try:
            return screen_host(host, port, allow_loopback=self._allow_loopback, resolver=self._resolver)
        except EndpointNotAllowed as exc:
            refusal = exc
        if refusal.reason == "unresolvable":
            # Not a refusal: a name that resolves nowhere cannot be reached. Marked as such, on the
            # error itself for the same reason as a refusal (below).
            unreachable = httpcore2.ConnectError(f"{host} does not resolve")
            unreachable.ssrf_unresolvable = True  # type: ignore[attr-defined]
            raise unreachable
        error = httpcore2.ConnectError(f"refused by the SSRF guard: {refusal.message}")
        # httpcore re-raises with `from None`, which drops a cause: the refusal rides on the error.
        error.ssrf_refusal = refusal  # type: ignore[attr-defined]
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        raise RuntimeError("unix sockets are never used for outbound calls")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
