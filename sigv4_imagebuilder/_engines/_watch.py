"""Whether a test tool or an instrumentation has patched httpx's or httpcore's transport.

respx (by default) patches httpcore's connection pool; ``respx.mock(using="httpx")``,
pytest-httpx and OpenTelemetry's ``HTTPXClientInstrumentor().instrument()`` patch
``httpx.HTTPTransport.handle_request`` and its async twin. While one of them is in
place, the engines hand each request to httpx's own transport, so the tool sees
every request the clients send. Only public names are compared: the methods as
found on the classes, against the ones the libraries ship.
"""

from __future__ import annotations

import sys

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
