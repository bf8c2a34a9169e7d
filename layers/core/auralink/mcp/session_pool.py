"""MCP sessions kept open for the length of a scope (a run step), one per server and credentials.

Without a scope, every MCP call opens its client and closes it (`auralink.mcp.client`): a
server on the 2025-11-25 handshake costs a handshake per call. Inside `scope()`, the client of a
call stays open on an event loop of the scope's own (a thread), and the next call to the same
server with the same headers (the same credentials: never another user's) runs on it. When the
scope ends, every session is closed (a legacy session with its DELETE) and the thread stops.

A session serves one call at a time, in its own task: the SDK's client holds task groups that
must be left by the task that entered them. A call that fails closes its session; the caller
decides whether to try again on a fresh one. Lambda runs one invocation at a time, so the scope
is the process's (a global, not a context variable): the threads that agents' tools run in see
it too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any

from auralink.settings import get_settings

# How long closing every session may take at the end of a scope (a legacy session's DELETE each).
CLOSE_TIMEOUT_S = 5.0
# A warm API container's sessions (`warm()`): how many it keeps, and how long one may sit idle
# before it is closed rather than reused (servers end idle sessions; a frozen container's are
# likely dead).
WARM_MAX_SESSIONS = 16
WARM_IDLE_S = 60.0

_Work = Callable[[Any], Awaitable[Any]]


class SessionEnded(Exception):
    """The session closed (an earlier call on it failed) before this call's turn came."""


class _Session:
    """One open session, served by one task: calls come through its inbox, one at a time."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, opener: Callable[[], AbstractAsyncContextManager[Any]]
    ) -> None:
        self.calls = 0
        self.last_used = time.monotonic()
        self._loop = loop
        self._inbox: asyncio.Queue[tuple[_Work, concurrent.futures.Future[Any]] | None] = asyncio.Queue()
        self._task = loop.create_task(self._serve(opener))

    def submit(self, work: _Work) -> concurrent.futures.Future[Any]:
        """From any thread: the call is queued on the session's loop without waiting for it."""
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._loop.call_soon_threadsafe(self._inbox.put_nowait, (work, done))
        self.calls += 1
        self.last_used = time.monotonic()
        return done

    def close(self) -> None:
        self._inbox.put_nowait(None)

    def cancel(self) -> None:
        self._task.cancel()

    @property
    def task(self) -> asyncio.Task[None]:
        return self._task

    async def _serve(self, opener: Callable[[], AbstractAsyncContextManager[Any]]) -> None:
        pending: concurrent.futures.Future[Any] | None = None
        try:
            async with opener() as session:
                while (item := await self._inbox.get()) is not None:
                    work, pending = item
                    try:
                        result = await work(session)
                    except BaseException as exc:  # the caller's to judge; this session is done
                        pending.set_exception(exc)
                        pending = None
                        for queued in self._drain():
                            queued.set_exception(SessionEnded("the MCP session closed"))
                        return
                    pending.set_result(result)
                    pending = None
        except BaseException as exc:
            # Opening (or closing) failed: the call waiting, and any queued behind it, learn why.
            unserved = list(self._drain())
            if pending is not None:
                unserved.append(pending)
            for future in unserved:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    def _drain(self) -> Iterator[concurrent.futures.Future[Any]]:
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if item is not None:
                yield item[1]


class SessionPool:
    """The sessions of one scope, on an event loop of their own. With ``max_sessions`` and
    ``idle_s`` (a warm container's pool), the least recently used session makes room for a new
    one, and a session idle longer than ``idle_s`` is closed instead of reused."""

    def __init__(self, *, max_sessions: int | None = None, idle_s: float | None = None) -> None:
        self._max_sessions = max_sessions
        self._idle_s = idle_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-sessions", daemon=True)
        self._thread.start()
        self._sessions: dict[Hashable, _Session] = {}
        self._lock = threading.Lock()
        self.opened = 0

    def holds(self, key: Hashable) -> bool:
        """Whether a session of ``key`` is open and would be reused."""
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return False
            return self._idle_s is None or time.monotonic() - session.last_used <= self._idle_s

    def _retire(self, key: Hashable) -> None:
        """Close a session that is not in use (its DELETE is sent in the background); under the lock."""
        session = self._sessions.pop(key)
        self._loop.call_soon_threadsafe(session.close)

    def call(
        self,
        key: Hashable,
        opener: Callable[[], AbstractAsyncContextManager[Any]],
        work: _Work,
        *,
        timeout_s: float,
    ) -> Any:
        """``work`` on the session of ``key`` (opened with ``opener`` if there is none). Any failure
        closes the session."""
        with self._lock:
            session = self._sessions.get(key)
            idle = session is not None and time.monotonic() - session.last_used > (
                self._idle_s or float("inf")
            )
            if idle:
                self._retire(key)
                session = None
            if session is None:
                if self._max_sessions is not None and len(self._sessions) >= self._max_sessions:
                    self._retire(min(self._sessions, key=lambda held: self._sessions[held].last_used))
                session = self._on_loop(lambda: _Session(self._loop, opener))
                self._sessions[key] = session
                self.opened += 1
            done = session.submit(work)
        try:
            return done.result(timeout=timeout_s)
        except BaseException:
            self._discard(key, session)
            raise

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        if sessions:
            closing = asyncio.run_coroutine_threadsafe(self._close_all(sessions), self._loop)
            with contextlib.suppress(Exception):  # the scope ends anyway: a server slow to close
                closing.result(timeout=CLOSE_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CLOSE_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()

    async def _close_all(self, sessions: list[_Session]) -> None:
        for session in sessions:
            session.close()
        _, late = await asyncio.wait([session.task for session in sessions], timeout=CLOSE_TIMEOUT_S - 0.5)
        for task in late:
            task.cancel()

    def _discard(self, key: Hashable, session: _Session) -> None:
        with self._lock:
            if self._sessions.get(key) is session:
                del self._sessions[key]
        # A call that timed out may still be running: its session is abandoned, not awaited.
        self._loop.call_soon_threadsafe(session.cancel)

    def _on_loop[T](self, make: Callable[[], T]) -> T:
        """Run ``make`` on the loop's thread (asyncio objects belong to their loop)."""

        async def made() -> T:
            return make()

        return asyncio.run_coroutine_threadsafe(made(), self._loop).result()


_current: SessionPool | None = None
_warm: SessionPool | None = None
_current_lock = threading.Lock()


def current() -> SessionPool | None:
    return _current


@contextmanager
def kept_warm() -> Iterator[None]:
    """One invocation of an API function: with MCP_WARM_SESSIONS, its MCP calls use the
    container's pool, whose sessions outlive the invocation (each keyed by its credentials)."""
    global _current, _warm  # noqa: PLW0603  # one invocation at a time: the process's scope
    if not get_settings().mcp_warm_sessions:
        yield
        return
    with _current_lock:
        outer = _current
        if outer is None:
            # Created at the container's first invocation: after any snapshot, never inside one.
            _warm = _warm or SessionPool(max_sessions=WARM_MAX_SESSIONS, idle_s=WARM_IDLE_S)
            _current = _warm
    try:
        yield
    finally:
        if outer is None:
            with _current_lock:
                _current = None


def forget_warm() -> None:
    """Close the container's pool (tests; a container being shut down)."""
    global _warm
    with _current_lock:
        pool, _warm = _warm, None
    if pool is not None:
        pool.close()


@contextmanager
def scope() -> Iterator[SessionPool]:
    """Keep MCP sessions open until the block ends (a run step); nested scopes share the outer one."""
    global _current  # noqa: PLW0603  # one invocation at a time: the process's scope
    with _current_lock:
        outer = _current
        pool = outer or SessionPool()
        _current = pool
    try:
        yield pool
    finally:
        if outer is None:
            with _current_lock:
                _current = None
            pool.close()
