"""An httpx transport that sends through aiohttp, for the async client the library makes.

Glue only: httpx's request becomes an aiohttp ``ClientSession.request`` (no
redirects, no decompression, no cookies, no netrc), aiohttp's response becomes
httpx's, and aiohttp's exceptions become httpx's with texts that quote nothing
a server sent. The session is made in the event loop of the first request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import AsyncIterator

import aiohttp
import httpx
import yarl

from ._settings import (
    EngineProtocolError,
    EngineSettings,
    basic_auth,
    name_the_proxy,
    proxy_for,
    reads_at_once,
    split_proxy_auth,
)
from ._watch import AsyncFallback, refused_after_close, watched_async


def _why(exc: BaseException) -> str:
    """``exc`` in words that quote nothing a server sent: its type, an OS error's own text."""
    os_error = getattr(exc, "os_error", None)  # ClientConnectorError's public attribute
    if isinstance(os_error, OSError) and os_error.strerror:
        return f"{type(os_error).__name__}: {os_error.strerror}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


class _Dropped(aiohttp.ClientError):
    """A connection dropped under a request, kept from aiohttp's own resend.

    aiohttp sends GET and PUT (GetImage, CancelImageCreation) a second time
    when the connection drops; only the client's ``max_attempts`` may send a
    request twice, counted and with its ``amz-sdk-request`` attempt number,
    as botocore does.
    """

    def __init__(self, dropped: aiohttp.ClientError) -> None:
        super().__init__(type(dropped).__name__)
        self.dropped = dropped


async def _no_resend(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    try:
        return await handler(request)
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        if isinstance(exc, aiohttp.ClientConnectorError):
            raise  # not sent at all: aiohttp does not resend these either
        raise _Dropped(exc) from None


class _ClientClosed(aiohttp.ClientConnectionError):
    """Handed to a reply still being read when the transport is closed."""


def map_error(exc: BaseException) -> httpx.HTTPError | httpx.InvalidURL:
    """aiohttp's exception as httpx's; the caller raises it ``from None``."""
    if isinstance(exc, _Dropped):
        exc = exc.dropped
    if isinstance(exc, _ClientClosed):
        return httpx.ReadError("the client was closed while the reply was read")
    if isinstance(exc, RuntimeError):  # aiohttp's "Connection closed.", when aclose() won a race
        return httpx.ReadError("the connection was closed under the request (RuntimeError)")
    if isinstance(exc, (aiohttp.InvalidURL, UnicodeError)):
        return httpx.InvalidURL("the URL's host is not valid")
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol("the URL is not http or https")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout("timed out connecting")
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return httpx.ReadTimeout("timed out reading the reply")
    if isinstance(exc, aiohttp.ClientHttpProxyError):  # the proxy's answer to CONNECT
        return httpx.ProxyError(f"the proxy answered {exc.status}")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return httpx.ProxyError(_why(exc))
    if isinstance(exc, aiohttp.ClientResponseError) and exc.request_info.method == "CONNECT":
        return httpx.ProxyError("the proxy's answer to CONNECT is not HTTP/1.1")
    if isinstance(exc, aiohttp.ClientSSLError):
        return httpx.ConnectError(f"TLS failed: {_why(exc)}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(_why(exc))
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return EngineProtocolError(f"the reply broke off ({type(exc).__name__})")
    if isinstance(exc, aiohttp.ClientResponseError):
        # aiohttp's parser quotes the reply's bad line, which a hostile server
        # can fill with what we sent it: only the type name is kept.
        return EngineProtocolError(f"the reply is not HTTP/1.1 ({type(exc).__name__})")
    if isinstance(exc, ValueError):
        # aiohttp refuses a header with a control character before sending it:
        # a local refusal, as httpx's own, never retried. Its text is not kept.
        return httpx.LocalProtocolError("aiohttp refused a header or the URL of the request")
    if isinstance(exc, OSError):
        return httpx.ReadError(_why(exc))
    return httpx.TransportError(f"aiohttp failed: {type(exc).__name__}")


#: What aiohttp raises of its own; ValueError for a header or URL it refuses, RuntimeError
#: for a reply whose connection the client's aclose() closed under it.
_ENGINE_ERRORS = (
    aiohttp.ClientError,
    asyncio.TimeoutError,
    OSError,
    UnicodeError,
    ValueError,
    RuntimeError,
)


@functools.lru_cache(maxsize=64)
def _url(text: str) -> yarl.URL:
    # Already encoded by httpx, and signed as it is: aiohttp must not re-quote it.
    return yarl.URL(text, encoded=True)


@functools.lru_cache(maxsize=16)
def _timeout(connect: float | None, read: float | None, proxied: bool) -> aiohttp.ClientTimeout:
    # The whole attempt's deadline is the caller's (asyncio.wait_for). sock_read
    # does not cover a proxy's answer to CONNECT: through a proxy, the connection
    # as a whole (the socket, that answer, the TLS handshake) gets connect and
    # read together. Not without one, where it would cost every call a timer.
    whole = None if not proxied or connect is None or read is None else connect + read
    return aiohttp.ClientTimeout(total=None, connect=whole, sock_connect=connect, sock_read=read)


class _Stream(httpx.AsyncByteStream):
    def __init__(
        self, response: aiohttp.ClientResponse, reading: weakref.WeakSet[aiohttp.ClientResponse]
    ) -> None:
        self._response = response
        self._reading = reading
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except _ENGINE_ERRORS as exc:
            raise map_error(exc) from None
        self._done = True

    async def aclose(self) -> None:
        self._reading.discard(self._response)
        if self._done:
            self._response.release()
        else:
            self._response.close()  # unread bytes on the wire: the connection is not reused


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests with one aiohttp ``ClientSession``.

    Args:
        settings: the CA bundle, the pool size and the environment's proxies.
    """

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._fallback = AsyncFallback(self._stock)
        # Replies whose body is still being read: closing the session alone
        # would leave their readers waiting (see aclose).
        self._reading: weakref.WeakSet[aiohttp.ClientResponse] = weakref.WeakSet()
        self._closed = False

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._settings.max_connections,
            limit_per_host=0,
            ssl=True,  # a CA bundle is handed to each TLS request (see handle_async_request)
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,  # proxies come from settings; netrc is never read
            middlewares=(_no_resend,),
        )
        return self._session

    def _stock(self) -> httpx.AsyncHTTPTransport:
        return httpx.AsyncHTTPTransport(verify=self._settings.context() or True)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:  # a request that reached the transport as aclose() ran
            raise refused_after_close()
        if watched_async():
            return await self._fallback.send(request)
        session = self._session or self._open()
        phases = request.extensions.get("timeout", {})
        url = request.url
        proxies = self._settings.proxies
        proxy = proxy_for(url.scheme, url.host, url.port, proxies) if proxies else None
        proxy_headers = None
        if proxy is not None:
            proxy, auth = split_proxy_auth(proxy)
            proxy_headers = {"Proxy-Authorization": basic_auth(*auth)} if auth else None
        tls = url.scheme == "https" or (proxy is not None and proxy.startswith("https:"))
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        try:
            response = await session.request(
                request.method,
                _url(str(url)),
                headers=headers,
                data=request.content or None,
                allow_redirects=False,
                timeout=_timeout(phases.get("connect"), phases.get("read"), proxy is not None),
                proxy=proxy,
                proxy_headers=proxy_headers,
                # A CA bundle is read at the first TLS request (to the endpoint or
                # to an https:// proxy), not for plain http.
                ssl=(self._settings.context() or True) if tls else True,
            )
        except _ENGINE_ERRORS as exc:
            raise name_the_proxy(map_error(exc), proxy) from None
        if self._closed:  # aclose() ran while the head was read
            response.close()
            raise httpx.ReadError("the client was closed while the reply was read")
        self._reading.add(response)
        if reads_at_once(response.content_length, response.headers.get("Content-Encoding")):
            # A small plain body (every Image Builder reply) is read here at once:
            # streamed, each reply would cross four layers of async generators.
            try:
                body = await response.read()
            except _ENGINE_ERRORS as exc:
                response.close()
                raise map_error(exc) from None
            finally:
                self._reading.discard(response)
            return httpx.Response(
                status_code=response.status,
                headers=response.raw_headers,
                content=body,
                extensions={"http_version": b"HTTP/1.1"},
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Stream(response, self._reading),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        # aiohttp drops a connection's reader when the session closes it, so a
        # task reading a reply would wait for ever: hand each an error first.
        self._closed = True
        for response in list(self._reading):
            response.content.set_exception(_ClientClosed())
            response.close()
        self._reading.clear()
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(RuntimeError):  # a loop that is gone took them with it
                await session.close()
        await self._fallback.aclose()
