"""An httpx transport that sends through urllib3, for the sync client the library makes.

Glue only: httpx's request becomes a urllib3 ``urlopen`` call (no redirects, no
retries, no decoding), urllib3's response becomes httpx's, and urllib3's
exceptions become httpx's with texts that quote nothing a server sent.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import urllib3
from urllib3.exceptions import ClosedPoolError, HTTPError

from .._http import DEFAULT_PORTS
from ._settings import (
    DEADLINE_EXTENSION,
    EngineProtocolError,
    EngineSettings,
    basic_auth,
    name_the_proxy,
    proxy_for,
    reads_at_once,
    split_proxy_auth,
)
from ._urllib3_errors import map_error
from ._watch import Fallback, refused_after_close, watched_sync

_CHUNK = 64 * 1024


@functools.lru_cache(maxsize=64)
def _timeout(connect: float | None, read: float | None) -> Any:
    return urllib3.Timeout(connect=connect, read=read)


class _Stream(httpx.SyncByteStream):
    def __init__(self, response: Any, deadline: float | None) -> None:
        self._response = response
        self._deadline = deadline
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        try:
            while True:
                self._bound_next_read()
                # read1: whatever has arrived, so a dribbled body returns chunk
                # by chunk and the caller can check its deadline in between.
                chunk = response.read1(_CHUNK, decode_content=False)
                if not chunk:
                    break
                yield chunk
        except (HTTPError, http.client.HTTPException, OSError) as exc:
            raise map_error(exc) from None
        self._done = True

    def read_exactly(self, length: int) -> bytes:
        """The whole body of a reply whose Content-Length is ``length``."""
        response = self._response
        chunks = []
        try:
            while length > 0:
                self._bound_next_read()
                chunk = response.read1(min(_CHUNK, length), decode_content=False)
                if not chunk:
                    raise EngineProtocolError("the reply broke off (IncompleteRead)")
                chunks.append(chunk)
                length -= len(chunk)
        except (HTTPError, http.client.HTTPException, OSError) as exc:
            raise map_error(exc) from None
        self._done = True
        return b"".join(chunks)

    def _bound_next_read(self) -> None:
        # Each read of the body gets what is left of the attempt.
        if self._deadline is None:
            return
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise httpx.ReadTimeout("timed out reading the reply")
        connection = self._response.connection
        sock = getattr(connection, "sock", None)
        if sock is not None:
            sock.settimeout(left)

    def close(self) -> None:
        response = self._response
        if not self._done:
            response.close()  # unread bytes on the wire: the connection is not reused
        response.release_conn()


#: One sweep at a time: two could each take a pool's entry, and one then delete a
#: pool made meanwhile at the same key, unclosed.
_SWEEPING = threading.Lock()


def _close(manager: Any) -> None:
    # PoolManager.clear() only forgets its pools (urllib3 2.8 gives them no
    # dispose function): a pool's idle connections would stay open until it
    # is garbage-collected. Take each pool out and close it, until none is
    # left, so one that a request makes meanwhile is not forgotten unclosed;
    # an in-flight connection is closed when it is handed back.
    pools = manager.pools
    with _SWEEPING:
        while keys := pools.keys():
            for key in keys:
                pool = pools.get(key)
                if pool is not None:
                    with contextlib.suppress(KeyError):  # evicted as the manager's 17th pool
                        del pools[key]
                    pool.close()


class Urllib3Transport(httpx.BaseTransport):
    """Send httpx requests with a urllib3 ``PoolManager`` (a ``ProxyManager`` per proxy).

    ``close()`` may run while other threads send: a request under way is answered and
    its connection closed after it; one that reaches the transport later is refused (a
    proxied one already past that check may still go out, and is answered). No
    connection stays open behind the closed transport.

    Args:
        settings: the CA bundle, the pool size and the environment's proxies.
    """

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._direct = self._manager(None)
        self._proxied: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pools: dict[tuple[str, str, int | None], Any] = {}
        self._fallback = Fallback(self._stock)
        self._closed = False

    def _manager(self, proxy: str | None) -> Any:
        settings = self._settings
        pool: dict[str, Any] = {
            "num_pools": 16,
            "maxsize": settings.max_connections,
            "block": False,
            "retries": False,
            "cert_reqs": "CERT_REQUIRED",
        }
        if proxy is not None and settings.ca_bundle is not None:
            pool["ssl_context"] = settings.context()  # a proxy is set up at its first use
        if proxy is None:
            return urllib3.PoolManager(**pool)
        url, auth = split_proxy_auth(proxy)
        headers = {"Proxy-Authorization": basic_auth(*auth)} if auth else None
        # The TLS leg to an https:// proxy is verified with the bundle too.
        return urllib3.ProxyManager(
            url, proxy_headers=headers, proxy_ssl_context=settings.context(), **pool
        )

    def _for(self, proxy: str | None) -> Any:
        if proxy is None:
            return self._direct
        manager = self._proxied.get(proxy)
        if manager is None:
            with self._lock:
                self._refuse_if_closed()
                manager = self._proxied.setdefault(proxy, self._manager(proxy))
        return manager

    def _refuse_if_closed(self) -> None:
        if self._closed:  # a call that reached the transport as close() ran
            raise refused_after_close()

    def _stock(self) -> httpx.HTTPTransport:
        return httpx.HTTPTransport(verify=self._settings.context() or True)

    def _pool(self, url: httpx.URL) -> Any:
        # The pool for url's origin, kept: PoolManager.urlopen would parse the
        # URL and look the pool up again on every request.
        key = (url.scheme, url.host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            # A CA bundle is read at the first TLS request, not for plain http.
            tls = url.scheme == "https" and self._settings.ca_bundle is not None
            with self._lock:  # close() cannot miss a pool made as it runs
                self._refuse_if_closed()
                pool = self._direct.connection_from_host(
                    url.host,
                    url.port or DEFAULT_PORTS.get(url.scheme),
                    url.scheme,
                    pool_kwargs={"ssl_context": self._settings.context()} if tls else None,
                )
                self._pools[key] = pool
        return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._refuse_if_closed()
        if watched_sync():
            return self._fallback.send(request)
        phases = request.extensions.get("timeout", {})
        connect, read = phases.get("connect"), phases.get("read")
        deadline = request.extensions.get(DEADLINE_EXTENSION)
        if deadline is not None:
            left = max(deadline - time.monotonic(), 0.001)
            connect = left if connect is None else min(connect, left)
            read = left if read is None else min(read, left)
        raw = request.headers.raw
        headers: Any = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
        if len(headers) != len(raw):  # a name twice: keep every value
            headers = urllib3.HTTPHeaderDict()
            for name, value in raw:
                headers.add(name.decode("latin-1"), value.decode("latin-1"))
        url = request.url
        options: dict[str, Any] = {
            "body": request.read() or None,
            "headers": headers,
            "redirect": False,
            "retries": False,
            "assert_same_host": False,
            "preload_content": False,
            "decode_content": False,
            "timeout": _timeout(connect, read),
        }
        proxies = self._settings.proxies
        proxy = proxy_for(url.scheme, url.host, url.port, proxies) if proxies else None
        try:
            manager = self._for(proxy)
            if manager is self._direct and url.scheme in DEFAULT_PORTS:
                try:
                    response = self._pool(url).urlopen(
                        request.method, url.raw_path.decode("ascii"), **options
                    )
                except ClosedPoolError:  # evicted by the manager, or closed: nothing was sent
                    self._refuse_if_closed()
                    self._pools.pop((url.scheme, url.host, url.port), None)
                    response = self._pool(url).urlopen(
                        request.method, url.raw_path.decode("ascii"), **options
                    )
            else:
                try:
                    response = manager.urlopen(request.method, str(url), **options)
                finally:
                    if self._closed:  # closed as it ran: a pool it made anew is closed too
                        _close(manager)
        except (HTTPError, http.client.HTTPException, OSError, ValueError) as exc:
            if isinstance(exc, UnicodeError):
                raise httpx.InvalidURL("the URL's host is not valid") from None
            if isinstance(exc, ValueError) and not isinstance(exc, HTTPError):
                # http.client's text quotes the header, which may hold a credential.
                raise httpx.LocalProtocolError("a header name or value is not valid HTTP") from None
            raise name_the_proxy(map_error(exc), proxy) from None
        if response.status < 200:
            # http.client skips only 100 Continue: another 1xx (103 Early Hints)
            # would pass for the final reply, with the real one left unread.
            response.close()
            response.release_conn()
            raise EngineProtocolError("an informational (1xx) reply other than 100")
        # http.client read the header bytes as latin-1: give httpx those bytes
        # back (httpx would encode a str as ASCII and fail on any other byte).
        reply_headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
        ]
        stream = _Stream(response, deadline)
        length = response.length_remaining
        if reads_at_once(length, response.headers.get("Content-Encoding")):
            # A small plain body (every Image Builder reply) is read here, each
            # read still bounded by the attempt's deadline: no stream to hand on.
            try:
                body = stream.read_exactly(length)
            finally:
                stream.close()
            return httpx.Response(
                status_code=response.status,
                headers=reply_headers,
                content=body,
                extensions={"http_version": b"HTTP/1.1"},
            )
        return httpx.Response(
            status_code=response.status,
            headers=reply_headers,
            stream=stream,
            extensions={"http_version": b"HTTP/1.1"},
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pools.clear()
            managers = [self._direct, *self._proxied.values()]
        for manager in managers:
            _close(manager)
        self._fallback.close()
