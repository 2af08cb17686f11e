"""The httpx adapter: our plain request in, our plain response (or a typed error) out.

Both clients send through here, as httpx keeps its transports apart from its
clients. What it promises, whatever the user's ``httpx.Client`` is set to:

* no redirect is followed (a 3xx comes back as a body-less reply, which the
  protocol turns into a ``ServiceError`` whose code is the status);
* ``Accept-Encoding: identity`` is asked for, and a reply is read as a
  stream and kept only up to ``MAX_RESPONSE_BYTES`` *after* decoding, so a
  gzip bomb or a huge body costs at most that much memory;
* an attempt can be given a total deadline (``attempt_timeout``), which a
  server dribbling one byte at a time cannot stretch (async: the whole
  exchange is cancelled; sync: our own transport bounds every socket wait
  by what is left of it; other sync transports get it checked after the
  headers and between body chunks, with every phase timeout capped at it,
  so there an exchange whose *headers* dribble can overrun it);
* httpx's exceptions become ours: network failures a ``TransportError``
  (retried), local refusals (a URL or header httpx will not send) a
  ``ConfigurationError`` (never retried, never echoing the value).

Requests go straight to the transport ``Client.send`` would pick: the same
mounts, proxies and pool, without the auth, hook and redirect machinery
that cost a quarter of a warm call. A client the library made itself always
goes that way (``direct=True``: it has no hooks and no use for cookies). A
user's own ``http_client`` does too while it is a plain ``httpx.Client`` or
``httpx.AsyncClient`` without event hooks, and the cookies a reply sets
still reach its jar; one with hooks, or of a subclass, goes through
``Client.send``, so everything it adds applies. While ``Client.send`` is
patched (a recorder, a mock), every client goes through it.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, Union

import httpx

from ._actions import Outcome, Send
from ._errors import (
    ConfigurationError,
    ConnectError,
    ConnectionClosedError,
    ImageBuilderError,
    ParamValidationError,
    TransportError,
    TransportTimeoutError,
)
from ._http import HttpResponse
from ._text import printable

if TYPE_CHECKING:
    import asyncio

#: The most bytes kept from any reply, after decoding. Image Builder's
#: replies are a few hundred bytes; credential sources' a few kilobytes.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024

#: A finite connect timeout and a finite read timeout, unlike httpx's 5 s for all.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

#: ``request.extensions`` key: the ``time.monotonic()`` instant an attempt
#: must end by. A transport that knows it (the sync one the library installs,
#: ``_wire.WireTransport``) bounds every socket wait by it; others ignore it.
DEADLINE_EXTENSION = "sigv4_imagebuilder.deadline"

#: In-flight requests per client when the pool's size cannot be read
#: (httpx's own default pool size).
DEFAULT_MAX_CONCURRENCY = 100

TimeoutArg = Union[float, int, httpx.Timeout, None]

#: Client.send logs every request on this logger at INFO; the direct path does too.
_httpx_logger = logging.getLogger("httpx")

#: The direct path calls ``Client._transport_for_url`` (httpx 0.18 to 0.28 at
#: least): the one private name it needs, to pick the transport exactly as
#: ``Client.send`` does. Without it, every client sends with ``Client.send``.
DIRECT_SEND_SUPPORTED = hasattr(httpx.Client, "_transport_for_url") and hasattr(
    httpx.AsyncClient, "_transport_for_url"
)

# Client.send and the step it ends in, as httpx ships them. A tool that
# records or mocks by patching either (our testing kit's record(), vcrpy)
# must still see our requests: then the direct path steps aside.
_SYNC_SEND = (httpx.Client.send, getattr(httpx.Client, "_send_single_request", None))
_ASYNC_SEND = (httpx.AsyncClient.send, getattr(httpx.AsyncClient, "_send_single_request", None))


def _unpatched(http: httpx.Client | httpx.AsyncClient, originals: tuple[Any, Any]) -> bool:
    return (
        getattr(http.send, "__func__", None) is originals[0]
        and getattr(getattr(http, "_send_single_request", None), "__func__", None)
        is originals[1]
        is not None
    )


_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


#: The longest timeout or deadline accepted, seconds. Longer ones are surely
#: mistakes, and past about 1e9 the socket layer overflows at connect time.
MAX_TIMEOUT = 24 * 3600.0


def _positive_finite(value: object) -> bool:
    # Compare before isfinite(): isfinite(10**400) itself overflows; a NaN
    # fails the comparison.
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= MAX_TIMEOUT
    )


def check_timeout(timeout: object) -> httpx.Timeout | None:
    """Return ``timeout`` as an ``httpx.Timeout`` (or None for httpx's own).

    Raises:
        ParamValidationError: not a positive finite number or an
            ``httpx.Timeout`` whose set phases are positive and finite
            (``inf`` would overflow at connect time, ``nan`` never expires).
    """
    if timeout is None:
        return None
    if isinstance(timeout, httpx.Timeout):
        phases = timeout.as_dict().values()
        if all(phase is None or _positive_finite(phase) for phase in phases):
            return timeout
    elif _positive_finite(timeout):
        assert isinstance(timeout, (int, float))
        return httpx.Timeout(float(timeout))
    raise ParamValidationError(
        "timeout",
        f"must be a positive number of seconds up to {MAX_TIMEOUT:.0f}, or an httpx.Timeout "
        "of such",
        timeout,
    )


def check_attempt_timeout(value: object) -> float | None:
    """Validate ``attempt_timeout``: None, or positive seconds up to :data:`MAX_TIMEOUT`."""
    if value is None:
        return None
    if not _positive_finite(value):
        raise ParamValidationError(
            "attempt_timeout", f"must be positive seconds up to {MAX_TIMEOUT:.0f}", value
        )
    assert isinstance(value, (int, float))
    return float(value)


def check_max_concurrency(value: object) -> int | None:
    """Validate ``max_concurrency``: None, or an int of at least 1."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ParamValidationError("max_concurrency", "must be an int of at least 1", value)
    return value


def pool_size(http: httpx.Client | httpx.AsyncClient) -> int:
    """The connection pool's ``max_connections``, or ``DEFAULT_MAX_CONCURRENCY``.

    httpx does not expose its limits; the default transport's pool holds
    them. A custom transport, or an unlimited pool, gets the default.
    """
    pool = getattr(getattr(http, "_transport", None), "_pool", None)
    size = getattr(pool, "_max_connections", None)
    if isinstance(size, int) and 0 < size < sys.maxsize:
        return size
    return DEFAULT_MAX_CONCURRENCY


_LOCAL_ERRORS = (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def map_transport_error(exc: Exception) -> ImageBuilderError:
    """Translate an httpx exception into ours.

    Network failures become a ``TransportError`` chained to the httpx one.
    Local refusals (``InvalidURL``, ``UnsupportedProtocol``,
    ``LocalProtocolError``) become a ``ConfigurationError`` that is *not*
    chained: httpx's text quotes the offending value, which may be a header
    holding a credential.
    """
    if isinstance(exc, _LOCAL_ERRORS):
        local = ConfigurationError(
            f"httpx refused to send the request ({type(exc).__name__}): the endpoint URL "
            "or a header value is not valid HTTP. Nothing was sent."
        )
        local.__suppress_context__ = True
        return local
    error: TransportError
    if isinstance(exc, httpx.TimeoutException):
        error = TransportTimeoutError(f"timed out: {type(exc).__name__}: {exc}")
    elif isinstance(exc, httpx.ConnectError):
        error = ConnectError(f"could not connect: {exc}")
    elif isinstance(exc, OSError) and not isinstance(exc, httpx.HTTPError):
        # Only from older httpcore: a raw socket or TLS failure while connecting.
        error = ConnectError(f"could not connect: {type(exc).__name__}: {exc}")
    elif isinstance(exc, httpx.RemoteProtocolError):
        # h11's text quotes the offending line of the reply, which a hostile
        # server can fill with what we sent it (the signature, the token):
        # only its first clause is kept, and the error chained is a copy of
        # httpx's with that clause alone.
        reason = printable(str(exc).split(":", 1)[0], 80)
        error = ConnectionClosedError(f"connection closed before a complete response: {reason}")
        exc = httpx.RemoteProtocolError(reason)
    elif isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.CloseError)):
        error = ConnectionClosedError(f"connection closed before a complete response: {exc}")
    else:
        error = TransportError(f"{type(exc).__name__}: {exc}")
    error.__cause__ = exc
    error.__suppress_context__ = True
    return error


def _deadline_error(seconds: float) -> TransportTimeoutError:
    return TransportTimeoutError(f"timed out: the attempt took longer than {seconds:g} s")


class BoundedBody:
    """A reply body fed raw bytes, decoded and kept up to ``limit`` bytes.

    Decodes ``gzip`` and ``deflate`` itself, with zlib's ``max_length``, so
    that no single chunk can inflate past the bound.

    Example:
        >>> body = BoundedBody("", limit=4)
        >>> body.feed(b"abc"); body.feed(b"de")
        >>> body.problem
        'the reply body is larger than 4 bytes'
    """

    def __init__(self, content_encoding: str, *, limit: int = MAX_RESPONSE_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self.problem: str | None = None
        #: The compressed stream did not decode: a transport failure, as httpx's
        #: DecodingError is, rather than a reply we read and did not understand.
        self.corrupt = False
        # One growing buffer, not a list of the pieces: a server sending its
        # body one byte per chunk would make a list cost ~40 bytes per byte.
        self._data = bytearray()
        encoding = content_encoding.strip().lower()
        self._decoder: Any = None
        self._deflate_guess = encoding == "deflate"
        if encoding in _DECODERS:
            self._decoder = zlib.decompressobj(_DECODERS[encoding])
        elif encoding not in ("", "identity"):
            # We asked for identity; anything else is a server's own idea.
            self.problem = f"the reply uses an unsupported Content-Encoding {encoding[:40]!r}"

    @property
    def done(self) -> bool:
        """True once nothing more should be read."""
        return self.problem is not None

    def feed(self, raw: bytes) -> None:
        """Add raw bytes from the wire."""
        if self.problem is not None or not raw:
            return
        if self._decoder is None:
            self._keep(raw)
            return
        try:
            data = self._decoder.decompress(raw, self.limit - self.size + 1)
        except zlib.error:
            if self._deflate_guess and self.size == 0:
                # "deflate" is often sent raw, without the zlib header (as httpx copes).
                self._deflate_guess = False
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                self.feed(raw)
                return
            self.problem = "the reply's compressed body is corrupt"
            self.corrupt = True
            return
        self._deflate_guess = False
        self._keep(data)
        if self._decoder.unconsumed_tail and self.problem is None:
            self.problem = f"the reply body is larger than {self.limit} bytes"

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self.problem = f"the reply body is larger than {self.limit} bytes"
            self._data = bytearray()
            return
        self._data += data

    def body(self) -> bytes:
        """The decoded body, or ``b""`` when there is a problem."""
        return b"" if self.problem is not None else bytes(self._data)


# What h11 and httpx accept in a header value: printable ASCII and tab.
_UNSAFE_VALUE = re.compile(r"[^\t\x20-\x7e]")
_SECRET_SOURCES = {
    "authorization": "the signature, built from the access key id",
    "x-amz-security-token": "the session token",
}


def _unsafe_header(name: str) -> ConfigurationError:
    # Checked before httpx sees the value: httpx's error and httpcore's DEBUG
    # log would quote it, and it may be a credential.
    source = _SECRET_SOURCES.get(name.lower(), "a header value")
    return ConfigurationError(
        f"Cannot send the {name} header: {source} holds a control character or a "
        "non-ASCII character (a stray CR from a CRLF file?). Nothing was sent."
    )


@functools.lru_cache(maxsize=64)
def _parse_url(url: str) -> httpx.URL:
    # Parsing is a visible share of a call's CPU; calls to one endpoint reuse
    # a handful of URLs. Bounded, as query strings (GetImage's ARN) vary.
    return httpx.URL(url)


def phase_timeouts(
    action: Send,
    http: httpx.Client | httpx.AsyncClient,
    timeout: httpx.Timeout | None,
    attempt_timeout: float | None,
) -> dict[str, float | None]:
    """The per-phase timeouts of one send, none longer than the attempt's deadline."""
    if action.timeout is not None:
        phases = httpx.Timeout(action.timeout).as_dict()
    elif timeout is not None:
        phases = timeout.as_dict()
    else:
        phases = http.timeout.as_dict()
    cap = _tighter(attempt_timeout, action.deadline)
    if cap is not None:
        phases = {k: cap if v is None else min(v, cap) for k, v in phases.items()}
    return phases


def deadline_of(action: Send, attempt_timeout: float | None) -> float | None:
    """Seconds this send may take in total: a Send's own timeout, else the
    client's option, and never more than the Send's ``deadline``."""
    own = action.timeout if action.timeout is not None else attempt_timeout
    return _tighter(own, action.deadline)


def _tighter(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


@functools.lru_cache(maxsize=16)
def _client_headers(raw: tuple[tuple[bytes, bytes], ...]) -> tuple[tuple[bytes, bytes, bytes], ...]:
    # A client's own headers rarely change; lower-case their names once.
    return tuple((name, name.lower(), value) for name, value in raw)


def build_request(
    action: Send, http: httpx.Client | httpx.AsyncClient, timeouts: dict[str, float | None]
) -> httpx.Request:
    """Our request as an ``httpx.Request``, with the client's headers under ours.

    Built pre-encoded: byte headers, with ``Host`` and ``Content-Length``
    supplied as httpx would add them, and the body as a byte stream, so
    httpx does not encode, merge and rebuild its header list again. Not
    ``http.build_request()`` either: that re-parses the URL and merges
    headers through several Headers objects. The client's own headers still
    apply (ours win); its cookies and params do not (the API uses neither).
    Transport, proxies, mTLS and event hooks are untouched: they belong to
    sending.
    """
    request = action.request
    ours: set[bytes] = {b"accept-encoding", b"content-length"}
    encoded: list[tuple[bytes, bytes]] = []
    for name, value in request.headers:
        if _UNSAFE_VALUE.search(value):
            raise _unsafe_header(name)
        raw_name = name.encode("ascii")
        ours.add(raw_name.lower())
        encoded.append((raw_name, value.encode("ascii")))
    url = _parse_url(request.url)
    headers = [(k, v) for k, lk, v in _client_headers(tuple(http.headers.raw)) if lk not in ours]
    if b"host" not in ours:
        headers.append((b"Host", url.netloc))
    headers.extend(encoded)
    headers.append((b"Accept-Encoding", b"identity"))
    body = request.body
    if body or request.method in ("POST", "PUT", "PATCH"):
        headers.append((b"Content-Length", str(len(body)).encode()))
    built = httpx.Request(
        request.method,
        url,
        headers=headers,
        stream=httpx.ByteStream(body),
        extensions={"timeout": timeouts},
    )
    built.read()  # as Request(content=...) does: a mock transport may read .content
    return built


def _headers(response: httpx.Response) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _redirect(response: httpx.Response, headers: dict[str, str]) -> HttpResponse:
    # Neither the body nor an error type a redirecting server chose is
    # trusted: the status alone becomes the error's code, which no retry
    # rule matches.
    headers.pop("x-amzn-errortype", None)
    return HttpResponse(status_code=response.status_code, headers=headers, body=b"")


def _already_read(response: httpx.Response) -> list[bytes]:
    # A transport may hand back a response whose body is already in memory
    # and decoded (httpx.MockTransport, respx); it cannot be streamed again.
    return [response.content] if response.is_stream_consumed else []


def _body_for(response: httpx.Response) -> BoundedBody:
    encoding = "" if response.is_stream_consumed else response.headers.get("content-encoding", "")
    return BoundedBody(encoding)


def _finish(
    response: httpx.Response, headers: dict[str, str], body: BoundedBody, start: float
) -> Outcome:
    elapsed = time.monotonic() - start
    if body.corrupt:
        encoding = response.headers.get("content-encoding", "")[:40]
        error = TransportError(f"DecodingError: the reply's {encoding!r} body is corrupt")
        return Outcome(error=error, elapsed=elapsed)
    reply = HttpResponse(
        status_code=response.status_code,
        headers=headers,
        body=body.body(),
        body_problem=body.problem,
    )
    return Outcome(response=reply, elapsed=elapsed)


def _raw_chunks(response: httpx.Response, direct: bool) -> Iterable[bytes]:
    # The transport's own stream, on the direct path: iter_raw re-chunks it
    # and wraps it in a context manager per call, for nothing we use. It
    # still maps httpcore's errors to httpx's, and response.close() closes it.
    if direct and isinstance(response.stream, httpx.SyncByteStream):
        return response.stream
    return response.iter_raw()


def _closed_error() -> RuntimeError:
    # What Client.send raises on a closed client; the clients turn it into ours.
    return RuntimeError("Cannot send a request, as the client has been closed.")


def _log_like_httpx(request: httpx.Request, response: httpx.Response) -> None:
    # The status's standard phrase, not the server's: a hostile one could
    # echo what we sent it (the token) into the log.
    if _httpx_logger.isEnabledFor(logging.INFO):
        _httpx_logger.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            request.url,
            response.http_version,
            response.status_code,
            httpx.codes.get_reason_phrase(response.status_code),
        )


def _plain(http: httpx.Client | httpx.AsyncClient, plain_type: type) -> bool:
    # A user's client whose send() would add nothing to the transport's work:
    # httpx's own class (a subclass may override any step of send), with no
    # event hook (looked up per call: hooks can be added at any time).
    # The one other thing send() does, storing cookies, _keep_cookies does.
    hooks = http.event_hooks
    return (
        type(http) is plain_type
        and DIRECT_SEND_SUPPORTED
        and not hooks["request"]
        and not hooks["response"]
    )


def _keep_cookies(http: httpx.Client | httpx.AsyncClient, response: httpx.Response) -> None:
    # What Client.send does with every reply; only a user's client's jar is
    # anyone's business, and Image Builder sets no cookies.
    if "set-cookie" in response.headers:
        http.cookies.extract_cookies(response)


def _open(http: httpx.Client, request: httpx.Request, direct: bool) -> httpx.Response:
    owned = direct
    if not (owned or _plain(http, httpx.Client)) or not _unpatched(http, _SYNC_SEND):
        return http.send(request, auth=None, follow_redirects=False, stream=True)
    if http.is_closed:
        raise _closed_error()
    response = http._transport_for_url(request.url).handle_request(request)
    try:
        response.request = request
        if not owned:
            _keep_cookies(http, response)
        _log_like_httpx(request, response)
    except BaseException:
        response.close()  # an interrupt, a hostile cookie: the caller never sees it
        raise
    return response


def send(
    http: httpx.Client, request: httpx.Request, deadline: float | None, *, direct: bool = False
) -> Outcome:
    """Send ``request`` with ``http`` and read the reply within the bounds.

    The deadline is checked after the headers and between body chunks; each
    socket operation is bounded by the phase timeouts, which
    :func:`phase_timeouts` caps at the deadline. Our own transport also gets
    the deadline's instant (:data:`DEADLINE_EXTENSION`) and bounds every
    socket wait by what is left of it, the reply's head included.

    Args:
        http: the client to send with.
        request: from :func:`build_request`.
        deadline: seconds the whole attempt may take, or None.
        direct: ``http`` is the library's own client: send through the
            transport it would pick, not ``http.send()``, and keep no
            cookies. Without it, a plain client without event hooks is sent
            the same way, with its cookies kept. Both step aside while
            ``send`` or ``_send_single_request`` is patched (a recorder).
    """
    start = time.monotonic()
    if deadline is not None:
        request.extensions[DEADLINE_EXTENSION] = start + deadline
    try:
        response = _open(http, request, direct)
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        # OSError: httpcore before 1.0 lets a failed TLS handshake's
        # ssl.SSLCertVerificationError out of the async client unmapped.
        return _failed_by(exc, start, deadline)
    try:
        headers = _headers(response)
        if 300 <= response.status_code < 400:
            return Outcome(response=_redirect(response, headers), elapsed=time.monotonic() - start)
        if deadline is not None and time.monotonic() - start > deadline:
            return Outcome(error=_deadline_error(deadline), elapsed=time.monotonic() - start)
        body = _body_for(response)
        for raw in _already_read(response) or _raw_chunks(response, direct):
            body.feed(raw)
            if body.done:
                break
            if deadline is not None and time.monotonic() - start > deadline:
                return Outcome(error=_deadline_error(deadline), elapsed=time.monotonic() - start)
        return _finish(response, headers, body, start)
    except httpx.HTTPError as exc:
        return _failed_by(exc, start, deadline)
    finally:
        response.close()


def _failed_by(exc: Exception, start: float, deadline: float | None) -> Outcome:
    # A socket wait cut short by the deadline is the deadline's timeout.
    if (
        deadline is not None
        and isinstance(exc, httpx.TimeoutException)
        and time.monotonic() >= start + deadline
    ):
        return Outcome(error=_deadline_error(deadline), elapsed=time.monotonic() - start)
    return _failed(exc, start)


class _GatedBody(httpx.AsyncByteStream):
    """A request body that opens the client's entry gate when httpcore starts sending it.

    httpcore's async pool can hand one idle connection to two requests that
    enter it back to back (the connection only turns busy when the first
    request starts on it); the loser retries, and every retry re-scans the
    whole pool: thousands of scans per thousand calls at concurrency 16. By
    the time the body is read, the connection is marked busy, so letting the
    next request in only then removes the collision. The cost: a request that
    opens a new connection holds the gate through its connect and TLS
    handshake (letting it skip the gate was measured, and doubled the CPU
    per call at concurrency 64: the pool grew to a connection per request).
    """

    def __init__(self, body: bytes, gate: asyncio.Lock) -> None:
        self._body = body
        self._gate: asyncio.Lock | None = gate

    def open_gate(self) -> None:
        if self._gate is not None:
            self._gate.release()
            self._gate = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.open_gate()
        yield self._body


async def _aopen(
    http: httpx.AsyncClient,
    request: httpx.Request,
    direct: bool,
    gate: asyncio.Lock | None,
) -> httpx.Response:
    owned = direct
    if not (owned or _plain(http, httpx.AsyncClient)) or not _unpatched(http, _ASYNC_SEND):
        return await http.send(request, auth=None, follow_redirects=False, stream=True)
    if http.is_closed:
        raise _closed_error()
    transport = http._transport_for_url(request.url)
    if gate is None:
        response = await transport.handle_async_request(request)
    else:
        await gate.acquire()
        body = _GatedBody(request.content, gate)
        request.stream = body
        try:
            response = await transport.handle_async_request(request)
        finally:
            body.open_gate()  # a failure, or a transport that never read the body
    response.request = request
    if not owned:
        _keep_cookies(http, response)
    _log_like_httpx(request, response)
    return response


async def asend(
    http: httpx.AsyncClient,
    request: httpx.Request,
    deadline: float | None,
    *,
    direct: bool = False,
    gate: asyncio.Lock | None = None,
) -> Outcome:
    """The asyncio twin of :func:`send`; the deadline covers the whole exchange.

    Args:
        http: the client to send with.
        request: from :func:`build_request`.
        deadline: seconds the whole exchange may take, or None.
        direct: as for :func:`send`.
        gate: with ``direct``, a lock held from entering httpx's pool until
            the request starts on its connection (see ``_GatedBody``).
    """
    start = time.monotonic()
    if deadline is None:
        return await _asend(http, request, start, direct, gate)
    import asyncio

    try:
        return await asyncio.wait_for(_asend(http, request, start, direct, gate), deadline)
    except asyncio.TimeoutError:
        return Outcome(error=_deadline_error(deadline), elapsed=time.monotonic() - start)


async def _asend(
    http: httpx.AsyncClient,
    request: httpx.Request,
    start: float,
    direct: bool,
    gate: asyncio.Lock | None,
) -> Outcome:
    try:
        response = await _aopen(http, request, direct, gate)
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        # OSError: httpcore before 1.0 lets a failed TLS handshake's
        # ssl.SSLCertVerificationError out of the async client unmapped.
        return _failed(exc, start)
    try:
        headers = _headers(response)
        if 300 <= response.status_code < 400:
            return Outcome(response=_redirect(response, headers), elapsed=time.monotonic() - start)
        body = _body_for(response)
        for raw in _already_read(response):  # an in-memory reply (MockTransport, respx)
            body.feed(raw)
        if not response.is_stream_consumed:
            async for raw in response.aiter_raw():
                body.feed(raw)
                if body.done:
                    break
        return _finish(response, headers, body, start)
    except httpx.HTTPError as exc:
        return _failed(exc, start)
    finally:
        await response.aclose()


def _failed(exc: Exception, start: float) -> Outcome:
    error = map_transport_error(exc)
    if not isinstance(error, TransportError):
        raise error  # local: retrying cannot help, and the flow must not try
    return Outcome(error=error, elapsed=time.monotonic() - start)


_lazy_context_class: Any = None
_lazy_class_lock = threading.Lock()


def _ca_locations() -> dict[str, str]:
    # Where httpx's create_ssl_context(verify=True) finds its CA certificates.
    if os.environ.get("SSL_CERT_FILE"):
        return {"cafile": os.environ["SSL_CERT_FILE"]}
    if os.environ.get("SSL_CERT_DIR"):
        return {"capath": os.environ["SSL_CERT_DIR"]}
    import certifi

    return {"cafile": certifi.where()}


def _httpx_version() -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in httpx.__version__.split(".")[:2])
    except ValueError:  # pragma: no cover - a development build's odd version
        return (0, 0)


#: From httpx 0.28 its default SSL context is the standard library's default
#: with certifi's bundle, which lazy_verifying_context reproduces. Earlier
#: versions tune ciphers and options themselves: their clients keep httpx's own.
LAZY_CA_SUPPORTED = _httpx_version() >= (0, 28)


def lazy_verifying_context() -> Any:
    """An ``ssl.SSLContext`` like httpx's default that loads its CA certificates late.

    httpx builds its SSL context, CA bundle included (about 45 ms of CPU and
    a megabyte or two), when a client is made. This one is configured as
    ``httpx.create_ssl_context()`` configures it (certificates and host names
    verified; ``SSL_CERT_FILE``, ``SSL_CERT_DIR``, then certifi) but reads the
    certificates only when its first TLS connection starts, so a client that
    only speaks plain http (a loopback stand-in) never pays for them.
    """
    global _lazy_context_class
    import ssl

    if _lazy_context_class is None:
        with _lazy_class_lock:
            if _lazy_context_class is None:

                class LazyCAContext(ssl.SSLContext):
                    _loaded = False
                    _load_lock = threading.Lock()

                    def _load(self) -> None:
                        if not self._loaded:
                            with self._load_lock:
                                if not self._loaded:
                                    self.load_verify_locations(**_ca_locations())
                                    self._loaded = True

                    def wrap_socket(self, *args: Any, **kwargs: Any) -> Any:
                        self._load()
                        return super().wrap_socket(*args, **kwargs)

                    def wrap_bio(self, *args: Any, **kwargs: Any) -> Any:
                        self._load()
                        return super().wrap_bio(*args, **kwargs)

                _lazy_context_class = LazyCAContext
    # What ssl.create_default_context() sets for a client, minus loading certificates.
    context = _lazy_context_class(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    if sys.version_info >= (3, 13):  # pragma: no cover - the suite's Python decides
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog and not sys.flags.ignore_environment:  # pragma: no cover - a debugging aid
        context.keylog_filename = keylog
    return context
