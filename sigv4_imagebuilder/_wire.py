"""The library's own HTTP/1.1 transports: h11 with a pool of their own, sync and async.

httpx's default transports go through httpcore (and, async, anyio): a cancel
scope per socket read and write, a task lookup per lock, trace contexts, a
pool that scans every connection on each request. For a reply of a few
hundred bytes that costs more CPU than the rest of the call. These
transports speak the same HTTP/1.1 with the same parser (h11), so the bytes
on the wire are the ones httpcore would send: :class:`AsyncWireTransport`
over asyncio's protocol callbacks, :class:`WireTransport` over blocking
sockets, for the clients the library makes itself. Both promise:

* per origin, a stack of idle keep-alive connections (the most recent
  first, so the rest can expire), taken in O(1);
* at most ``max_connections`` open, with callers past that waiting in a
  FIFO queue (``pool`` timeout: ``httpx.PoolTimeout``), at most
  ``max_keepalive_connections`` idle, each for ``keepalive_expiry`` seconds;
* a connection that the server closed or wrote to while idle is dropped
  at checkout; one the server drops under a request is an error, never a
  silent second send (the server may have read the request: only the
  client's ``max_attempts`` may send it again, as botocore does);
* a connection goes back to the pool only when its reply was read to the
  end and h11 says it can carry another; any failure, cancellation or
  interrupt closes it and frees its place at once;
* every failure is an ``httpx`` exception (``ConnectError``,
  ``ConnectTimeout``, ``ReadTimeout``, ``WriteTimeout``, ``PoolTimeout``,
  ``ReadError``, ``WriteError``, ``RemoteProtocolError``,
  ``LocalProtocolError``), as httpx's own transports raise them, and none
  quotes what the server sent;
* nothing is logged: header values (credentials among them) never reach a log.

The sync driver also bounds every socket wait by the attempt's deadline
(:data:`._transport.DEADLINE_EXTENSION`), so a server dribbling its reply
head cannot stretch an attempt.

The protocol logic is sans-I/O and shared (:class:`Exchange`: request in,
bytes out; bytes in, events out; :class:`IdleConnections`: the pool's
bookkeeping).

Mocking tools patch httpx's or httpcore's transport classes (respx, by
default; pytest-httpx). While either is patched, requests go through a
stock httpx transport instead, so a mock is never bypassed.
"""

from __future__ import annotations

import contextlib
import math
import select
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

import h11
import httpx

from ._http import DEFAULT_PORTS
from ._transport import DEADLINE_EXTENSION

if TYPE_CHECKING:
    import asyncio
else:
    # Bound by the first AsyncWireTransport: importing asyncio costs tens of
    # milliseconds, which the sync client (and its cold start) never pays.
    asyncio = None


def _load_asyncio() -> None:
    global asyncio
    import asyncio


#: As httpcore: the largest response head (or chunk header) h11 will buffer.
MAX_INCOMPLETE_EVENT_SIZE = 100 * 1024

#: Received bytes held before the socket stops being read (flow control):
#: an endless body costs at most this much memory beyond what the reader keeps.
READ_HIGH_WATER = 256 * 1024


ConnT = TypeVar("ConnT", bound="PooledConnection")


# --- the sans-I/O core -------------------------------------------------------


class Exchange:
    """One HTTP/1.1 connection's protocol state: h11, with httpx's exceptions.

    Sans-I/O: :meth:`request_bytes` turns a request into the bytes to write,
    :meth:`receive` takes bytes read (``b""`` at end of stream), and
    :meth:`next_event` returns what they mean. h11's own errors never escape.

    Example:
        >>> exchange = Exchange()
        >>> exchange.request_bytes(b"GET", b"/", [(b"Host", b"example.com")], b"")
        b'GET / HTTP/1.1\\r\\nHost: example.com\\r\\n\\r\\n'
        >>> exchange.receive(b"HTTP/1.1 204 No Content\\r\\n\\r\\n")
        >>> exchange.next_event().status_code
        204
    """

    __slots__ = ("_h11", "received")

    def __init__(self) -> None:
        self._h11 = h11.Connection(
            our_role=h11.CLIENT, max_incomplete_event_size=MAX_INCOMPLETE_EVENT_SIZE
        )
        #: Bytes received since the current request was written.
        self.received = 0

    def request_bytes(
        self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bytes:
        """The request as it goes on the wire: h11's head, the body, the end.

        Raises:
            httpx.LocalProtocolError: h11 refuses the request (a bad header,
                a body that does not match its Content-Length).
        """
        self.received = 0
        send = self._h11.send
        try:
            head = send(h11.Request(method=method, target=target, headers=headers))
            data = send(h11.Data(data=body)) if body else b""
            end = send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            # h11's text may quote a header value; it is not repeated.
            raise httpx.LocalProtocolError(
                f"h11 refused the request: {type(exc).__name__}"
            ) from None
        return b"".join((head or b"", data or b"", end or b""))

    def receive(self, data: bytes) -> None:
        """Feed bytes read from the connection; ``b""`` means the peer closed it."""
        self.received += len(data)
        self._h11.receive_data(data)

    def next_event(self) -> Any:
        """The next h11 event, or ``h11.NEED_DATA``.

        Raises:
            httpx.RemoteProtocolError: a malformed reply, one whose head is
                larger than :data:`MAX_INCOMPLETE_EVENT_SIZE`, or one cut short.
        """
        try:
            return self._h11.next_event()
        except h11.RemoteProtocolError as exc:
            # h11's text quotes the offending line, which a hostile server can
            # fill with what we sent it (the token): its first clause only.
            reason = str(exc).split(":", 1)[0][:80]
            raise httpx.RemoteProtocolError(reason) from None

    @property
    def awaiting_response(self) -> bool:
        """True while no byte of the reply has arrived."""
        return self._h11.their_state is h11.SEND_RESPONSE and self.received == 0

    def reusable(self) -> bool:
        """Whether the connection can carry another request; if so, ready it for one."""
        state = self._h11
        if state.our_state is h11.DONE and state.their_state is h11.DONE:
            if state.trailing_data[0]:
                # Bytes past the end of the reply: not an answer to anything we sent.
                return False
            state.start_next_cycle()
            return True
        return False


def origin_of(url: httpx.URL) -> tuple[str, str, int]:
    """The pool key of ``url``: scheme, host, port.

    Raises:
        httpx.UnsupportedProtocol: not http or https.
    """
    scheme = url.scheme
    if scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{scheme}://'.")
    return (scheme, url.raw_host.decode("ascii"), url.port or DEFAULT_PORTS[scheme])


def head_of(request: httpx.Request) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
    """Method, request target and raw headers, as :meth:`Exchange.request_bytes` takes them."""
    return request.method.encode("ascii"), request.url.raw_path, request.headers.raw


def response_head(event: Any) -> tuple[int, list[tuple[bytes, bytes]], dict[str, Any]]:
    """Status, raw headers and httpx extensions of an ``h11.Response``, as httpcore gives them."""
    extensions = {"http_version": b"HTTP/" + event.http_version, "reason_phrase": event.reason}
    return event.status_code, event.headers.raw_items(), extensions


class PooledConnection:
    """What the pool's bookkeeping needs to know of a connection."""

    __slots__ = ("expires_at", "origin")

    def __init__(self, origin: tuple[str, str, int]) -> None:
        self.origin = origin
        self.expires_at = math.inf

    def usable(self) -> bool:  # pragma: no cover - every driver says
        """Whether the connection can carry a request now."""
        raise NotImplementedError


class IdleConnections(Generic[ConnT]):
    """The pool's idle keep-alive connections: per origin, the most recent on top.

    Sans-I/O: the caller passes the clock and closes what it is handed back.
    Taking from the top keeps the busy few warm and lets the bottom expire;
    each call checks the bottom of its origin's stack, so expired
    connections go within a call or two, in O(1) per call.
    """

    def __init__(self, max_idle: int | None, expiry: float | None) -> None:
        self.max_idle = sys.maxsize if max_idle is None else max_idle
        self.expiry = math.inf if expiry is None else expiry
        self._stacks: dict[tuple[str, str, int], deque[ConnT]] = {}
        self.count = 0

    def take(
        self, origin: tuple[str, str, int], now: float, drop: Callable[[ConnT], None]
    ) -> ConnT | None:
        """A usable idle connection to ``origin``, or None; stale ones go to ``drop``.

        Expired connections at the bottom of other origins' stacks go too
        (a credential endpoint's, while calls go to the API), as few as
        there are origins.
        """
        if len(self._stacks) > 1:
            for key, other in self._stacks.items():
                while key != origin and other and other[0].expires_at <= now:
                    self.count -= 1
                    drop(other.popleft())
        stack = self._stacks.get(origin)
        while stack:
            oldest = stack[0]
            if oldest.expires_at <= now or not oldest.usable():
                stack.popleft()
                self.count -= 1
                drop(oldest)
                continue
            conn = stack.pop()
            self.count -= 1
            if conn.expires_at > now and conn.usable():
                return conn
            drop(conn)
        return None

    def put(self, conn: ConnT, now: float) -> bool:
        """Keep ``conn`` idle; False when the pool keeps enough already (close it)."""
        if self.count >= self.max_idle:
            return False
        conn.expires_at = now + self.expiry
        stack = self._stacks.get(conn.origin)
        if stack is None:
            stack = self._stacks[conn.origin] = deque()
        stack.append(conn)
        self.count += 1
        return True

    def evict(self) -> ConnT | None:
        """The oldest idle connection of any origin, removed (to free its place), or None."""
        for stack in self._stacks.values():
            if stack:
                self.count -= 1
                return stack.popleft()
        return None

    def clear(self) -> list[ConnT]:
        """Remove and return every idle connection."""
        every = [conn for stack in self._stacks.values() for conn in stack]
        self._stacks.clear()
        self.count = 0
        return every


# --- the asyncio driver ----------------------------------------------------


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_result(_TIMED_OUT)


_TIMED_OUT = object()
_CLOSED = object()


class _Connection(PooledConnection):
    """One TCP (or TLS) connection: an asyncio protocol feeding an :class:`Exchange`.

    It has every method of ``asyncio.Protocol`` without deriving from it, so
    that this module can be imported without asyncio (see ``_load_asyncio``);
    asyncio's transports call protocols by these names only.
    """

    __slots__ = (
        "_chunks",
        "_drain",
        "_eof",
        "_error",
        "_paused",
        "_size",
        "_waiter",
        "_write_paused",
        "discarded",
        "exchange",
        "transport",
    )

    def __init__(self, origin: tuple[str, str, int]) -> None:
        PooledConnection.__init__(self, origin)
        self.exchange = Exchange()
        self.transport: asyncio.Transport | None = None
        self.discarded = False
        self._chunks: list[bytes] = []
        self._size = 0
        self._eof = False
        self._error: BaseException | None = None
        self._paused = False
        self._write_paused = False
        self._waiter: asyncio.Future[Any] | None = None
        self._drain: asyncio.Future[Any] | None = None

    # asyncio.Protocol: called by the event loop.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports are not asyncio.Transport
        # subclasses, though they have its methods.
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > READ_HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None:
            self._error = exc
        self._wake()
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # What the transport uses.

    def usable(self) -> bool:
        # Idle, so nothing may have arrived: bytes or an end of stream mean
        # the server closed it (or is confused); either way it is not reused.
        transport = self.transport
        return not (self._eof or self._chunks or transport is None or transport.is_closing())

    def close(self) -> None:
        """Close at once, without a TLS goodbye: nothing waits on a dropped connection."""
        transport = self.transport
        if transport is not None:
            try:
                transport.abort()
            except RuntimeError:
                # Its event loop is closed (aclose() from a later asyncio.run):
                # nothing can run there now. End the TCP connection at least;
                # the socket object is closed when it is collected.
                sock = transport.get_extra_info("socket")
                with contextlib.suppress(OSError, AttributeError):
                    sock.shutdown(socket.SHUT_RDWR)
        if not self._eof:
            # A reader still waiting learns why its reply will never come.
            self._eof = True
            self._error = ConnectionAbortedError("closed by this client")
        self._wake()

    async def write(self, data: bytes, timeout: float | None) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self._eof:
            raise httpx.WriteError("the connection was closed before the request was sent")
        transport.write(data)
        if not self._write_paused:
            return
        loop = asyncio.get_running_loop()
        drain = self._drain = loop.create_future()
        timer = loop.call_later(timeout, _expire, drain) if timeout is not None else None
        try:
            result = await drain
        finally:
            self._drain = None
            if timer is not None:
                timer.cancel()
        if result is _TIMED_OUT:
            raise httpx.WriteTimeout("timed out sending the request")
        if self._error is not None:
            raise httpx.WriteError(f"{type(self._error).__name__}: {self._error}")

    async def read(self, timeout: float | None) -> bytes:
        """The bytes received so far, waiting up to ``timeout`` for some; b"" at the end."""
        if not self._chunks and not self._eof:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
            try:
                result = await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if result is _TIMED_OUT and not self._chunks:
                raise httpx.ReadTimeout("timed out waiting for the reply")
        chunks = self._chunks
        if chunks:
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._size = 0
            if self._paused and self.transport is not None:
                self._paused = False
                self.transport.resume_reading()
            return data
        error = self._error
        if error is not None:
            raise httpx.ReadError(f"{type(error).__name__}: {error}")
        return b""

    async def next_event(self, timeout: float | None) -> Any:
        """The next h11 event, reading as much as it takes."""
        exchange = self.exchange
        while True:
            event = exchange.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.read(timeout)
            if not data and exchange.awaiting_response:
                # As httpcore says it: clearer than h11's state-machine error.
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            exchange.receive(data)


class _ResponseStream(httpx.AsyncByteStream):
    """A reply body, chunk by chunk as it arrives; hands the connection back at the end."""

    def __init__(self, pool: AsyncWireTransport, conn: _Connection, timeout: float | None) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
        self._timeout = timeout

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        if conn is None:
            raise StopAsyncIteration
        try:
            event = await conn.next_event(self._timeout)
            if type(event) is h11.Data:
                return bytes(event.data)
            if type(event) is not h11.EndOfMessage:
                raise httpx.RemoteProtocolError(
                    f"unexpected {type(event).__name__} in the reply body"
                )
        except BaseException:
            self._conn = None
            self._pool._discard(conn)
            raise
        self._conn = None
        self._pool._release(conn)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        conn = self._conn
        if conn is not None:
            # Not read to the end: the rest of the reply is still on the wire.
            self._conn = None
            self._pool._discard(conn)


def _genuine(function: object, module: str, qualname: str) -> bool:
    return (
        getattr(function, "__module__", None) == module
        and getattr(function, "__qualname__", None) == qualname
        and not hasattr(function, "__wrapped__")
    )


_POOL_METHOD = ("httpcore._async.connection_pool", "AsyncConnectionPool.handle_async_request")
_TRANSPORT_METHOD = ("httpx._transports.default", "AsyncHTTPTransport.handle_async_request")


_SYNC_POOL_METHOD = ("httpcore._sync.connection_pool", "ConnectionPool.handle_request")
_SYNC_TRANSPORT_METHOD = ("httpx._transports.default", "HTTPTransport.handle_request")


#: The methods as the libraries ship them, each remembered the first time it
#: is seen unpatched; until then it is checked by name on each call.
_originals: dict[tuple[str, str], object] = {}


def _shipped(cls: type | None, where: tuple[str, str]) -> bool:
    """Whether ``cls``'s method named in ``where`` is the one its library ships.

    ``cls`` None: its module was never imported, so nothing has patched it.
    """
    if cls is None:
        return True
    function = cls.__dict__.get(where[1].rpartition(".")[2])
    known = _originals.get(where)
    if known is not None:
        return function is known
    if _genuine(function, *where):
        _originals[where] = function
        return True
    return False


def _httpcore_class(name: str) -> type | None:
    # Not imported here: a client sending through our transport need never
    # load httpcore, and a mocking tool that patches it has imported it.
    module = sys.modules.get("httpcore")
    return getattr(module, name, None) if module is not None else None


def pristine() -> bool:
    """False while a mocking tool has patched httpx's or httpcore's async transport.

    respx (by default) patches ``httpcore.AsyncConnectionPool``; pytest-httpx
    and ``respx.mock(using=...)`` variants patch ``httpx.AsyncHTTPTransport``.
    """
    return _shipped(httpx.AsyncHTTPTransport, _TRANSPORT_METHOD) and _shipped(
        _httpcore_class("AsyncConnectionPool"), _POOL_METHOD
    )


def sync_pristine() -> bool:
    """False while a mocking tool has patched httpx's or httpcore's sync transport.

    respx (by default) patches ``httpcore.ConnectionPool.handle_request``;
    pytest-httpx and ``respx.mock(using="httpx")`` patch
    ``httpx.HTTPTransport.handle_request``.
    """
    return _shipped(httpx.HTTPTransport, _SYNC_TRANSPORT_METHOD) and _shipped(
        _httpcore_class("ConnectionPool"), _SYNC_POOL_METHOD
    )


class _PoolCounts:
    """What both drivers' pools tell about themselves."""

    _open: int
    _idle: IdleConnections[Any]

    @property
    def open_connections(self) -> int:
        """Connections open or opening (each counts against ``max_connections``)."""
        return self._open

    @property
    def idle_connections(self) -> int:
        """Connections kept alive between requests."""
        return self._idle.count


class AsyncWireTransport(_PoolCounts, httpx.AsyncBaseTransport):
    """httpx's async transport interface over asyncio and h11, with its own pool.

    Args:
        limits: ``max_connections``, ``max_keepalive_connections`` and
            ``keepalive_expiry``, as httpx's transport reads them.
        ssl_context: for ``https`` origins; host names are verified as the
            context says. Default: ``httpx.create_ssl_context()``, made at
            the first ``https`` request.
        fallback: the transport to send through while a mocking tool has
            patched httpx's or httpcore's; default a stock
            ``httpx.AsyncHTTPTransport`` with the same limits and context,
            made when first needed.

    Example:
        >>> async def main():
        ...     async with httpx.AsyncClient(transport=AsyncWireTransport()) as client:
        ...         return await client.get("http://127.0.0.1:9/")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        limits: httpx.Limits = httpx.Limits(),  # noqa: B008 - immutable in practice
        ssl_context: ssl.SSLContext | None = None,
        fallback: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        _load_asyncio()
        self._limits = limits
        self._ssl_context = ssl_context
        self._fallback = fallback
        self._max = sys.maxsize if limits.max_connections is None else limits.max_connections
        self._idle: IdleConnections[_Connection] = IdleConnections(
            limits.max_keepalive_connections, limits.keepalive_expiry
        )
        self._open = 0  # connections counted against max_connections
        self._conns: set[_Connection] = set()
        self._waiters: deque[tuple[tuple[str, str, int], asyncio.Future[Any]]] = deque()
        self._closed = False

    # --- requests ---

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the response, its body still to be read.

        Raises:
            httpx.TransportError: the subclass naming what failed.
            RuntimeError: the transport is closed.
        """
        if not pristine():
            return await self._stock().handle_async_request(request)
        if self._closed:
            raise RuntimeError("Cannot send a request, as the transport has been closed.")
        origin = origin_of(request.url)
        timeouts = request.extensions.get("timeout") or {}
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        method, target, headers = head_of(request)
        read_timeout = timeouts.get("read")
        write_timeout = timeouts.get("write")
        conn = await self._checkout(origin, timeouts)
        if conn.transport is None:
            await self._connect(conn, timeouts.get("connect"))
        # A kept-alive connection the server drops under the request is not
        # sent on again here: the server may have read the request, and only
        # the caller's retry rules (max_attempts) may send it twice.
        try:
            data = conn.exchange.request_bytes(method, target, headers, body)
            await conn.write(data, write_timeout)
            event = await conn.next_event(read_timeout)
            while type(event) is h11.InformationalResponse:
                event = await conn.next_event(read_timeout)
            if type(event) is not h11.Response:
                raise httpx.RemoteProtocolError(
                    f"unexpected {type(event).__name__} instead of a reply"
                )
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
            self._discard(conn)
            if self._closed:  # aclose() took the connection from under the request
                raise RuntimeError(
                    "Cannot send a request, as the transport has been closed."
                ) from None
            raise
        except BaseException:
            self._discard(conn)
            raise
        status, raw_headers, extensions = response_head(event)
        return httpx.Response(
            status,
            headers=raw_headers,
            stream=_ResponseStream(self, conn, read_timeout),
            extensions=extensions,
        )

    def _stock(self) -> httpx.AsyncBaseTransport:
        if self._fallback is None:
            verify: Any = self._ssl_context if self._ssl_context is not None else True
            self._fallback = httpx.AsyncHTTPTransport(verify=verify, limits=self._limits)
        return self._fallback

    # --- the pool ---

    async def _checkout(
        self, origin: tuple[str, str, int], timeouts: dict[str, float | None]
    ) -> _Connection:
        """An idle connection to ``origin``, or a new unconnected one holding a place."""
        if self._closed:
            raise RuntimeError("Cannot send a request, as the transport has been closed.")
        loop = asyncio.get_running_loop()
        waiters = self._waiters
        while waiters and waiters[0][1].done():
            waiters.popleft()
        if not waiters:
            conn = self._idle.take(origin, loop.time(), self._drop)
            if conn is not None:
                return conn
            if self._open < self._max:
                self._open += 1
                return self._new(origin)
            spare = self._idle.evict()
            if spare is not None:  # an idle connection to another origin gives up its place
                self._close(spare)
                return self._new(origin)
        waiter: asyncio.Future[Any] = loop.create_future()
        waiters.append((origin, waiter))
        timeout = timeouts.get("pool")
        timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            result = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._give_back(waiter.result(), origin)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if result is _TIMED_OUT:
            raise httpx.PoolTimeout("timed out waiting for a connection from the pool")
        if result is _CLOSED:
            raise RuntimeError("Cannot send a request, as the transport has been closed.")
        if result is None:  # a place freed for a new connection
            if self._closed:  # ... and the transport closed before we resumed
                raise RuntimeError("Cannot send a request, as the transport has been closed.")
            return self._new(origin)
        assert isinstance(result, _Connection)
        return result

    def _give_back(self, result: Any, origin: tuple[str, str, int]) -> None:
        # A waiter cancelled after it was handed a connection or a place.
        if isinstance(result, _Connection):
            self._recycle(result)
        elif result is None:
            self._free_place()

    def _new(self, origin: tuple[str, str, int]) -> _Connection:
        # The caller holds a place for it (counted in self._open).
        conn = _Connection(origin)
        self._conns.add(conn)
        return conn

    async def _connect(self, conn: _Connection, timeout: float | None) -> None:
        scheme, host, port = conn.origin
        context = None
        if scheme == "https":
            context = self._ssl_context
            if context is None:
                context = self._ssl_context = httpx.create_ssl_context()
        loop = asyncio.get_running_loop()
        try:
            connecting = loop.create_connection(
                lambda: cast("asyncio.Protocol", conn),
                host,
                port,
                ssl=context,
                server_hostname=host if context else None,
            )
            if timeout is None:
                await connecting
            else:
                await asyncio.wait_for(connecting, timeout)
        except asyncio.TimeoutError:
            self._discard(conn)
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:  # refused, unreachable, no such host, a TLS failure
            self._discard(conn)
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            self._discard(conn)  # cancelled: a connection made meanwhile is closed too
            raise
        if conn.discarded:  # the transport was closed while this one connected
            conn.close()
            raise RuntimeError("Cannot send a request, as the transport has been closed.")

    def _release(self, conn: _Connection) -> None:
        """The reply was read to the end: keep the connection if it can carry another."""
        if conn.discarded:
            return
        if self._closed or not conn.exchange.reusable() or not conn.usable():
            self._discard(conn)
            return
        self._recycle(conn)

    def _recycle(self, conn: _Connection) -> None:
        """Hand a reusable connection to the first waiter, or keep it idle."""
        if self._closed:
            self._discard(conn)
            return
        waiters = self._waiters
        while waiters:
            origin, waiter = waiters.popleft()
            if waiter.done():
                continue
            if origin == conn.origin:
                waiter.set_result(conn)
            else:
                self._close(conn)
                waiter.set_result(None)  # its place goes to the waiter
            return
        if not self._idle.put(conn, asyncio.get_running_loop().time()):
            self._discard(conn)

    def _discard(self, conn: _Connection) -> None:
        """Close a connection that is not idle, and free its place."""
        if conn.discarded:
            return
        self._close(conn)
        self._free_place()

    def _drop(self, conn: _Connection) -> None:
        # An idle connection found stale or expired.
        self._discard(conn)

    def _close(self, conn: _Connection) -> None:
        # Close without freeing the place: the caller passes it on.
        conn.discarded = True
        conn.close()
        self._conns.discard(conn)

    def _free_place(self) -> None:
        if self._closed:  # aclose() zeroed the count and woke every waiter
            return
        waiters = self._waiters
        while waiters:
            _, waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._open -= 1

    # --- closing ---

    async def aclose(self) -> None:
        """Close every connection, idle or busy; requests after this are refused."""
        self._closed = True
        for conn in self._idle.clear():
            self._close(conn)
        for conn in list(self._conns):
            self._close(conn)
        self._open = 0
        while self._waiters:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(_CLOSED)
        # Let the event loop run the transports' close callbacks now, so no
        # socket outlives the loop (a ResourceWarning at exit otherwise).
        await asyncio.sleep(0)
        if self._fallback is not None:
            await self._fallback.aclose()


# --- the blocking-socket driver ------------------------------------------------

#: Bytes asked of the socket per read, as httpcore asks.
READ_SIZE = 64 * 1024

if hasattr(select, "poll"):

    def _readable(sock: socket.socket) -> bool:
        # poll, not select: a descriptor past FD_SETSIZE (1024) is fine.
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))

else:  # pragma: no cover - Windows has no poll

    def _readable(sock: socket.socket) -> bool:
        return bool(select.select([sock], [], [], 0)[0])


def _wait(timeout: float | None, deadline: float | None, error: type[Exception]) -> float | None:
    """How long one socket operation may block: its phase timeout, cut to the deadline.

    Raises:
        error: the deadline (a ``time.monotonic()`` instant) has passed.
    """
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the attempt's deadline passed")
    return left if timeout is None or left < timeout else timeout


class _SocketConnection(PooledConnection):
    """One blocking TCP (or TLS) socket and its :class:`Exchange`; one thread at a time."""

    __slots__ = ("aborted", "discarded", "exchange", "releases", "sock")

    def __init__(self, origin: tuple[str, str, int]) -> None:
        PooledConnection.__init__(self, origin)
        self.exchange = Exchange()
        self.sock: socket.socket | None = None
        #: How often a reply on it was handed back (under the pool's lock): a
        #: reader interrupted around the hand-back tells by it whether the
        #: connection is still its own to discard.
        self.releases = 0
        #: No longer counted by the pool; whoever holds it closes it.
        self.discarded = False
        #: Shut down by the pool's close() while a request was on it.
        self.aborted = False

    def usable(self) -> bool:
        # Idle, so nothing may have arrived: bytes or an end of stream mean
        # the server closed it (or is confused); either way it is not reused.
        sock = self.sock
        if sock is None or self.discarded:
            return False
        try:
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                return False
            return not _readable(sock)
        except (OSError, ValueError):  # closed meanwhile
            return False

    def close(self) -> None:
        """Close the socket (again is harmless)."""
        sock = self.sock
        if sock is not None:
            sock.close()

    def abort(self) -> None:
        """From another thread: end the connection so that its user's wait ends at once.

        A shutdown wakes a thread blocked reading (closing alone does not), and
        that thread closes the socket itself, as it owns the descriptor.
        """
        self.aborted = True
        sock = self.sock
        if sock is not None:
            # socket's own shutdown: an SSLSocket's would drop its TLS state
            # under the thread reading through it.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def write(self, data: bytes, timeout: float | None, deadline: float | None) -> None:
        sock = self.sock
        assert sock is not None
        try:
            sock.settimeout(_wait(timeout, deadline, httpx.WriteTimeout))
            sock.sendall(data)
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request") from None
        except OSError as exc:
            raise httpx.WriteError(self._why(exc)) from exc

    def read(self, timeout: float | None, deadline: float | None) -> bytes:
        """Bytes from the socket, waiting up to the bound for some; b"" at the end."""
        sock = self.sock
        assert sock is not None
        try:
            sock.settimeout(_wait(timeout, deadline, httpx.ReadTimeout))
            data = sock.recv(READ_SIZE)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for the reply") from None
        except OSError as exc:
            raise httpx.ReadError(self._why(exc)) from exc
        if not data and self.aborted:
            raise httpx.ReadError("ConnectionAbortedError: closed by this client")
        return data

    def _why(self, exc: OSError) -> str:
        if self.aborted:
            return "ConnectionAbortedError: closed by this client"
        return f"{type(exc).__name__}: {exc}"

    def next_event(self, timeout: float | None, deadline: float | None) -> Any:
        """The next h11 event, reading as much as it takes."""
        exchange = self.exchange
        while True:
            event = exchange.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = self.read(timeout, deadline)
            if not data and exchange.awaiting_response:
                # As httpcore says it: clearer than h11's state-machine error.
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            exchange.receive(data)


class _SocketResponseStream(httpx.SyncByteStream):
    """A reply body, chunk by chunk as it arrives; hands the connection back at the end."""

    def __init__(
        self,
        pool: WireTransport,
        conn: _SocketConnection,
        timeout: float | None,
        deadline: float | None,
    ) -> None:
        self._pool = pool
        self._conn: _SocketConnection | None = conn
        self._releases = conn.releases
        self._timeout = timeout
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        conn = self._conn
        if conn is None:
            raise StopIteration
        try:
            event = conn.next_event(self._timeout, self._deadline)
            if type(event) is h11.Data:
                return bytes(event.data)
            if type(event) is not h11.EndOfMessage:
                raise httpx.RemoteProtocolError(
                    f"unexpected {type(event).__name__} in the reply body"
                )
            self._pool._release(conn)
        except BaseException:
            # A failure, or a signal (KeyboardInterrupt) mid-read or while
            # handing it back: unless the hand-back happened, the connection
            # can carry nothing more.
            self._pool._abandon(conn, self._releases)  # idempotent: first, then forget
            self._conn = None
            raise
        self._conn = None
        raise StopIteration

    def close(self) -> None:
        conn = self._conn
        if conn is not None:
            # Not read to the end: the rest of the reply is still on the wire.
            self._pool._abandon(conn, self._releases)
            self._conn = None


_PENDING = object()


class _Waiter:
    """A thread waiting for a connection (or a place for one) to ``origin``."""

    __slots__ = ("event", "origin", "result")

    def __init__(self, origin: tuple[str, str, int]) -> None:
        self.origin = origin
        self.event = threading.Event()
        #: _PENDING, then a connection, None (a place for a new one) or _CLOSED.
        self.result: Any = _PENDING

    def hand(self, result: Any) -> None:
        self.result = result
        self.event.set()


class WireTransport(_PoolCounts, httpx.BaseTransport):
    """httpx's sync transport interface over blocking sockets and h11, with its own pool.

    The twin of :class:`AsyncWireTransport`, sharing its protocol core
    (:class:`Exchange`) and its pool's bookkeeping (:class:`IdleConnections`);
    safe to share across threads (one lock guards the pool; no socket
    operation runs under it except closing and a non-blocking poll).

    Each socket operation waits at most its phase timeout from
    ``request.extensions["timeout"]``, and never past the instant (a
    ``time.monotonic()`` value) in ``request.extensions`` under
    ``DEADLINE_EXTENSION``, if the library set one: a server sending a byte
    per read timeout cannot stretch an attempt past its deadline.

    Args:
        limits: ``max_connections``, ``max_keepalive_connections`` and
            ``keepalive_expiry``, as httpx's transport reads them.
        ssl_context: for ``https`` origins; host names are verified as the
            context says. Default: ``httpx.create_ssl_context()``, made at
            the first ``https`` request.
        fallback: the transport to send through while a mocking tool has
            patched httpx's or httpcore's; default a stock
            ``httpx.HTTPTransport`` with the same limits and context, made
            when first needed.

    Example:
        >>> with httpx.Client(transport=WireTransport()) as client:
        ...     client.get("http://127.0.0.1:9/")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        limits: httpx.Limits = httpx.Limits(),  # noqa: B008 - immutable in practice
        ssl_context: ssl.SSLContext | None = None,
        fallback: httpx.BaseTransport | None = None,
    ) -> None:
        self._limits = limits
        self._ssl_context = ssl_context
        self._fallback = fallback
        self._max = sys.maxsize if limits.max_connections is None else limits.max_connections
        self._idle: IdleConnections[_SocketConnection] = IdleConnections(
            limits.max_keepalive_connections, limits.keepalive_expiry
        )
        self._lock = threading.Lock()
        self._open = 0  # connections counted against max_connections
        self._conns: set[_SocketConnection] = set()
        self._waiters: deque[_Waiter] = deque()
        self._closed = False

    # --- requests ---

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the response, its body still to be read.

        Raises:
            httpx.TransportError: the subclass naming what failed.
            RuntimeError: the transport is closed.
        """
        if not sync_pristine():
            return self._stock().handle_request(request)
        if self._closed:
            raise RuntimeError("Cannot send a request, as the transport has been closed.")
        origin = origin_of(request.url)
        extensions = request.extensions
        timeouts = extensions.get("timeout") or {}
        deadline = extensions.get(DEADLINE_EXTENSION)
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = request.read()
        method, target, headers = head_of(request)
        read_timeout = timeouts.get("read")
        write_timeout = timeouts.get("write")
        conn = self._checkout(origin, _wait(timeouts.get("pool"), deadline, httpx.PoolTimeout))
        # As the async driver: a kept-alive connection dropped under the
        # request is an error, never a silent second send.
        try:
            if conn.sock is None:
                self._connect(conn, timeouts.get("connect"), deadline)
            data = conn.exchange.request_bytes(method, target, headers, body)
            conn.write(data, write_timeout, deadline)
            event = conn.next_event(read_timeout, deadline)
            while type(event) is h11.InformationalResponse:
                event = conn.next_event(read_timeout, deadline)
            if type(event) is not h11.Response:
                raise httpx.RemoteProtocolError(
                    f"unexpected {type(event).__name__} instead of a reply"
                )
            # Inside the try: until the stream owns the connection, an
            # interrupt must not leave it (and its place) to nobody.
            status, raw_headers, response_extensions = response_head(event)
            return httpx.Response(
                status,
                headers=raw_headers,
                stream=_SocketResponseStream(self, conn, read_timeout, deadline),
                extensions=response_extensions,
            )
        except BaseException:
            self._discard(conn)
            raise

    def _stock(self) -> httpx.BaseTransport:
        with self._lock:
            if self._fallback is None:
                verify: Any = self._ssl_context if self._ssl_context is not None else True
                self._fallback = httpx.HTTPTransport(verify=verify, limits=self._limits)
            return self._fallback

    # --- the pool ---

    def _checkout(self, origin: tuple[str, str, int], timeout: float | None) -> _SocketConnection:
        """An idle connection to ``origin``, or a new unconnected one holding a place."""
        with self._lock:
            if self._closed:
                raise RuntimeError("Cannot send a request, as the transport has been closed.")
            if not self._waiters:
                conn = self._idle.take(origin, time.monotonic(), self._discard_locked)
                if conn is not None:
                    return conn
                if self._open < self._max:
                    self._open += 1
                    return self._new(origin)
                spare = self._idle.evict()
                if spare is not None:  # an idle connection to another origin gives up its place
                    self._close_locked(spare)
                    return self._new(origin)
            waiter = _Waiter(origin)
            self._waiters.append(waiter)
        try:
            waiter.event.wait(timeout)
        except BaseException:
            # Interrupted (a signal): whatever it was handed meanwhile goes back.
            with self._lock:
                if waiter.result is _PENDING:
                    self._waiters.remove(waiter)
                else:
                    self._give_back_locked(waiter.result)
            raise
        with self._lock:
            result = waiter.result
            if result is _PENDING:
                self._waiters.remove(waiter)
                raise httpx.PoolTimeout("timed out waiting for a connection from the pool")
            if result is _CLOSED or self._closed:
                if isinstance(result, _SocketConnection):
                    self._discard_locked(result)
                raise RuntimeError("Cannot send a request, as the transport has been closed.")
            if result is None:  # a place freed for a new connection
                return self._new(origin)
            assert isinstance(result, _SocketConnection)
            return result

    def _give_back_locked(self, result: Any) -> None:
        if isinstance(result, _SocketConnection):
            self._recycle_locked(result)
        elif result is None:
            self._free_place_locked()

    def _new(self, origin: tuple[str, str, int]) -> _SocketConnection:
        # The caller holds a place for it (counted in self._open) and the lock.
        conn = _SocketConnection(origin)
        self._conns.add(conn)
        return conn

    def _context(self) -> ssl.SSLContext:
        context = self._ssl_context
        if context is None:
            with self._lock:
                if self._ssl_context is None:
                    self._ssl_context = httpx.create_ssl_context()
                context = self._ssl_context
        return context

    def _connect(
        self, conn: _SocketConnection, timeout: float | None, deadline: float | None
    ) -> None:
        scheme, host, port = conn.origin
        try:
            sock = socket.create_connection(
                (host, port), timeout=_wait(timeout, deadline, httpx.ConnectTimeout)
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except (OSError, UnicodeError) as exc:  # refused, unreachable, no such host
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}") from exc
        try:
            # As httpcore: each request goes out in one write, and must not
            # wait for the previous reply's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                # The handshake shares the connect timeout (and the deadline).
                sock.settimeout(_wait(timeout, deadline, httpx.ConnectTimeout))
                sock = self._context().wrap_socket(sock, server_hostname=host)
        except TimeoutError:
            sock.close()
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:  # the TLS handshake failed: a bad certificate, a reset
            sock.close()
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            sock.close()
            raise
        with self._lock:
            conn.sock = sock
            closed = conn.discarded
        if closed:  # the transport was closed while this one connected
            sock.close()
            raise RuntimeError("Cannot send a request, as the transport has been closed.")

    def _release(self, conn: _SocketConnection) -> None:
        """The reply was read to the end: keep the connection if it can carry another."""
        with self._lock:
            # Decided first: an interrupt in there leaves the connection the
            # reader's, to discard (see _abandon); from the count on, it is not.
            reusable = not conn.discarded and not self._closed and conn.exchange.reusable()
            conn.releases += 1
            if conn.discarded:
                conn.close()
            elif not reusable:
                self._discard_locked(conn)
            else:
                self._recycle_locked(conn)

    def _recycle_locked(self, conn: _SocketConnection) -> None:
        """Hand a reusable connection to the first waiter, or keep it idle."""
        if self._closed:
            self._discard_locked(conn)
            return
        waiters = self._waiters
        if waiters:
            waiter = waiters.popleft()
            if waiter.origin == conn.origin:
                waiter.hand(conn)
            else:
                self._close_locked(conn)
                waiter.hand(None)  # its place goes to the waiter
            return
        if not self._idle.put(conn, time.monotonic()):
            self._discard_locked(conn)

    def _discard(self, conn: _SocketConnection) -> None:
        """Close a connection that is not idle, and free its place."""
        with self._lock:
            self._discard_locked(conn)

    def _abandon(self, conn: _SocketConnection, releases: int) -> None:
        """Discard a reader's connection unless it was handed back meanwhile
        (then it is idle or another thread's, and not this reader's to close)."""
        with self._lock:
            if conn.releases == releases:
                self._discard_locked(conn)

    def _discard_locked(self, conn: _SocketConnection) -> None:
        conn.close()  # even if the pool let go of it already: this thread owns the socket
        if conn.discarded:
            return
        self._close_locked(conn)
        self._free_place_locked()

    def _close_locked(self, conn: _SocketConnection) -> None:
        # Close without freeing the place: the caller passes it on.
        conn.discarded = True
        conn.close()
        self._conns.discard(conn)

    def _free_place_locked(self) -> None:
        if self._waiters:
            self._waiters.popleft().hand(None)
        else:
            self._open -= 1

    # --- closing ---

    def close(self) -> None:
        """Close every connection, idle or busy; requests after this are refused.

        A request on a busy connection fails at once with ``httpx.ReadError``
        (or ``WriteError``); threads waiting for the pool get a RuntimeError.
        """
        with self._lock:
            self._closed = True
            for conn in self._idle.clear():
                self._close_locked(conn)
            for conn in self._conns:
                conn.discarded = True
                conn.abort()  # its thread closes the socket as it fails
            self._conns.clear()
            self._open = 0
            while self._waiters:
                self._waiters.popleft().hand(_CLOSED)
            fallback = self._fallback
        if fallback is not None:
            fallback.close()


@overload
def install(http: httpx.AsyncClient, limits: httpx.Limits) -> AsyncWireTransport | None: ...


@overload
def install(http: httpx.Client, limits: httpx.Limits) -> WireTransport | None: ...


def install(
    http: httpx.Client | httpx.AsyncClient, limits: httpx.Limits
) -> WireTransport | AsyncWireTransport | None:
    """Make ``http`` (a client the library built) send through our transport.

    :class:`WireTransport` for an ``httpx.Client``, :class:`AsyncWireTransport`
    for an ``httpx.AsyncClient``. httpx builds its proxy mounts from the
    environment only when no ``transport=`` is given, so the client is built
    as usual and its default transport replaced afterwards; it stays as the
    fallback for mocking tools. Proxied URLs keep going through httpx's own
    proxy transports.

    Returns:
        The transport installed, or None when ``http`` does not have httpx's
        default transport in the expected place (then nothing changes).
    """
    import httpcore

    stock = getattr(http, "_transport", None)
    pool = getattr(stock, "_pool", None)
    context = getattr(pool, "_ssl_context", None)
    if not isinstance(context, ssl.SSLContext):
        return None
    wire: WireTransport | AsyncWireTransport
    if type(stock) is httpx.HTTPTransport and type(pool) is httpcore.ConnectionPool:
        wire = WireTransport(limits=limits, ssl_context=context, fallback=stock)
    elif type(stock) is httpx.AsyncHTTPTransport and type(pool) is httpcore.AsyncConnectionPool:
        wire = AsyncWireTransport(limits=limits, ssl_context=context, fallback=stock)
    else:
        return None
    http._transport = wire
    return wire
