"""The HTTP engines under httpx: urllib3 for the sync client, aiohttp for the async one.

The clients the library makes hand httpx's requests to an engine that others
maintain, through a thin transport that maps the request, the response and the
engine's exceptions (``_urllib3``, ``_aiohttp``). What both share lives here:
the settings as botocore resolves them (CA bundle, proxies) and the hand-off to
httpx's own transport while a test tool or an instrumentation has patched it.

Neither engine is imported until its client first sends: a sync client never
loads aiohttp, and ``import sigv4_imagebuilder`` loads neither.
"""

from __future__ import annotations

import http.cookiejar
from typing import TYPE_CHECKING, Any

import httpx

from ._settings import (
    DEADLINE_EXTENSION,
    EngineProtocolError,
    EngineSettings,
    basic_auth,
    check_ca_bundle,
    check_proxies,
    environment_proxies,
    proxy_for,
    split_proxy_auth,
    verifying_context,
)
from ._watch import watched_async, watched_sync


class _NoCookies(httpx.Cookies):
    """Cookies that are never kept: Image Builder sets none.

    ``Client.send`` reads every reply for cookies, a tenth of a warm call even
    when there are none, and a hostile server could grow a real jar without end.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class _KeepNothing(http.cookiejar.CookieJar):
    # Shared by every client the library makes, so nothing may be set in it.
    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


_NO_COOKIES = _NoCookies(_KeepNothing())


class _KeepsNoCookies:
    """A client whose ``cookies`` are never kept (the setter httpx's ``__init__`` calls
    does nothing)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        return None


class OwnClient(_KeepsNoCookies, httpx.Client):
    """The ``httpx.Client`` the library makes: httpx's, with no cookie jar."""


class OwnAsyncClient(_KeepsNoCookies, httpx.AsyncClient):
    """The ``httpx.AsyncClient`` the library makes: httpx's, with no cookie jar."""


if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport


class LazyAiohttpTransport(httpx.AsyncBaseTransport):
    """The aiohttp transport, made (and aiohttp imported) when the first request is sent."""

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._engine: AiohttpTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        engine = self._engine
        if engine is None:
            from ._aiohttp import AiohttpTransport

            engine = self._engine = AiohttpTransport(self._settings)
        return await engine.handle_async_request(request)

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.aclose()


__all__ = [
    "DEADLINE_EXTENSION",
    "EngineProtocolError",
    "EngineSettings",
    "LazyAiohttpTransport",
    "OwnAsyncClient",
    "OwnClient",
    "basic_auth",
    "check_ca_bundle",
    "check_proxies",
    "verifying_context",
    "environment_proxies",
    "proxy_for",
    "split_proxy_auth",
    "watched_async",
    "watched_sync",
]
