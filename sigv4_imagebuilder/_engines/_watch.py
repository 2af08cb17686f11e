"""Whether a test tool or an instrumentation has patched httpx's or httpcore's transport.

respx (by default) patches httpcore's connection pool; ``respx.mock(using="httpx")``,
pytest-httpx and OpenTelemetry's ``HTTPXClientInstrumentor().instrument()`` patch
``httpx.HTTPTransport.handle_request`` and its async twin. While one of them is in
place, the engines hand each request to httpx's own transport, so the tool sees
every request the clients send. Only public names are compared: the methods as
found on the classes, against the ones the libraries ship.

That transport is closed only once no request is inside it (:class:`Fallback`).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx

# (class, method name, the qualified name it ships with)
_SYNC = [(httpx.HTTPTransport, "handle_request")]
_ASYNC = [(httpx.AsyncHTTPTransport, "handle_async_request")]
_HTTPCORE_SYNC = [("ConnectionPool", "handle_request"), ("HTTPConnection", "handle_request")]
_HTTPCORE_ASYNC = [
    ("AsyncConnectionPool", "handle_async_request"),
    ("AsyncHTTPConnection", "handle_async_request"),
]

#: Each method as first seen unpatched, by (class, name).
_shipped: dict[tuple[type, str], object] = {}


def _patched(cls: type, name: str) -> bool:
    function = vars(cls).get(name)
    known = _shipped.get((cls, name))
    if known is not None:
        return function is not known
    genuine = (
        callable(function)
        and getattr(function, "__qualname__", None) == f"{cls.__name__}.{name}"
        and not hasattr(function, "__wrapped__")
    )
    if genuine:
        _shipped[(cls, name)] = function
    return not genuine


def _httpcore_patched(names: list[tuple[str, str]]) -> bool:
    # Not imported here: an engine never needs httpcore, and a tool that
    # patches it has imported it.
    httpcore = sys.modules.get("httpcore")
    if httpcore is None:
        return False
    return any(
        isinstance(cls := getattr(httpcore, cls_name, None), type) and _patched(cls, name)
        for cls_name, name in names
    )


def watched_sync() -> bool:
    """True while httpx's or httpcore's sync transport is patched."""
    return any(_patched(cls, name) for cls, name in _SYNC) or _httpcore_patched(_HTTPCORE_SYNC)


def watched_async() -> bool:
    """True while httpx's or httpcore's async transport is patched."""
    return any(_patched(cls, name) for cls, name in _ASYNC) or _httpcore_patched(_HTTPCORE_ASYNC)


def refused_after_close() -> httpx.ConnectError:
    """What a request that reaches an engine after it closed gets: nothing was sent."""
    return httpx.ConnectError("the client was closed; nothing was sent")


class _Counted:
    """Requests inside a fallback; it is closed once the engine closed and none is left.

    httpx's transport closed under a request drops that request's connection from its
    pool while it is still being made (it then stays open) or breaks its reply: so a
    close waits for the last request out.
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._transport: Any = None
        self._inside = 0
        self._closed = False
        self._lock = threading.Lock()

    def _enter(self) -> Any:
        with self._lock:
            if self._closed:
                raise refused_after_close()
            if self._transport is None:
                self._transport = self._make()
            self._inside += 1
            return self._transport

    def _leave(self) -> Any:
        """The transport to close now, or None."""
        with self._lock:
            self._inside -= 1
            return self._transport if self._closed and not self._inside else None

    def _shut(self) -> Any:
        """The transport to close now (none is inside it), or None."""
        with self._lock:
            self._closed = True
            return self._transport if not self._inside else None


class _Released(httpx.SyncByteStream):
    def __init__(self, stream: Any, leave: Callable[[], None]) -> None:
        self._stream, self._leave = stream, leave

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        leave, self._leave = self._leave, _nothing
        try:
            self._stream.close()
        finally:
            leave()


class _AReleased(httpx.AsyncByteStream):
    def __init__(self, stream: Any, leave: Callable[[], Awaitable[None]]) -> None:
        self._stream, self._leave = stream, leave

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        leave, self._leave = self._leave, _anothing
        try:
            await self._stream.aclose()
        finally:
            await leave()


def _nothing() -> None:
    pass


async def _anothing() -> None:
    pass


def _rewrapped(response: httpx.Response, stream: Any) -> httpx.Response:
    return httpx.Response(
        status_code=response.status_code,
        headers=response.headers.raw,
        stream=stream,
        extensions=response.extensions,
    )


class Fallback(_Counted):
    """httpx's own transport (made at the first request), for an engine whose requests
    an instrumentation watches; closed when the engine is and no request is inside."""

    def send(self, request: httpx.Request) -> httpx.Response:
        transport = self._enter()
        try:
            response = transport.handle_request(request)
        except BaseException:
            self._release()
            raise
        return _rewrapped(response, _Released(response.stream, self._release))

    def _release(self) -> None:
        transport = self._leave()
        if transport is not None:
            transport.close()

    def close(self) -> None:
        transport = self._shut()
        if transport is not None:
            transport.close()


class AsyncFallback(_Counted):
    """The async twin of :class:`Fallback`."""

    async def send(self, request: httpx.Request) -> httpx.Response:
        transport = self._enter()
        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            await self._release()
            raise
        return _rewrapped(response, _AReleased(response.stream, self._release))

    async def _release(self) -> None:
        transport = self._leave()
        if transport is not None:
            await transport.aclose()

    async def aclose(self) -> None:
        transport = self._shut()
        if transport is not None:
            await transport.aclose()
