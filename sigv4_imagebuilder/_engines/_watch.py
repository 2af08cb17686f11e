"""Whether a test tool or an instrumentation has patched httpx's or httpcore's transport.

respx (by default) patches httpcore's connection pool; ``respx.mock(using="httpx")``,
pytest-httpx and OpenTelemetry's ``HTTPXClientInstrumentor().instrument()`` patch
``httpx.HTTPTransport.handle_request`` and its async twin. While one of them is in
place, the engines hand each request to httpx's own transport, so the tool sees
every request the clients send. Only public names are compared: the methods as
found on the classes, against the ones the libraries ship.

httpx's transport keeps connecting for a request already in it when it is closed,
so an engine closed meanwhile closes it again when that request's reply or
failure ends (:func:`swept`, :func:`aswept`): no connection stays open behind it.
"""

from __future__ import annotations

import sys
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


class _Swept(httpx.SyncByteStream):
    def __init__(self, stream: Any, closed: Callable[[], bool], sweep: Callable[[], None]):
        self._stream, self._closed, self._sweep = stream, closed, sweep

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            if self._closed():
                self._sweep()


class _ASwept(httpx.AsyncByteStream):
    def __init__(
        self, stream: Any, closed: Callable[[], bool], sweep: Callable[[], Awaitable[None]]
    ):
        self._stream, self._closed, self._sweep = stream, closed, sweep

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._closed():
                await self._sweep()


def _rewrapped(response: httpx.Response, stream: Any) -> httpx.Response:
    return httpx.Response(
        status_code=response.status_code,
        headers=response.headers.raw,
        stream=stream,
        extensions=response.extensions,
    )


def swept(
    fallback: httpx.HTTPTransport, request: httpx.Request, closed: Callable[[], bool]
) -> httpx.Response:
    """``fallback``'s reply to ``request``; ``fallback`` is closed again when the reply
    (or the failure) ends, if ``closed()`` holds by then."""
    try:
        response = fallback.handle_request(request)
    except BaseException:
        if closed():
            fallback.close()
        raise
    return _rewrapped(response, _Swept(response.stream, closed, fallback.close))


async def aswept(
    fallback: httpx.AsyncHTTPTransport, request: httpx.Request, closed: Callable[[], bool]
) -> httpx.Response:
    """The async twin of :func:`swept`."""
    try:
        response = await fallback.handle_async_request(request)
    except BaseException:
        if closed():
            await fallback.aclose()
        raise
    return _rewrapped(response, _ASwept(response.stream, closed, fallback.aclose))
