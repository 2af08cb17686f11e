"""The httpx adapter: our plain request in, our plain response (or a typed error) out.

Both clients send through here with ``httpx.Client.send`` (or its async twin), so
every tool that patches or instruments httpx sees their requests. What it
promises, whatever the user's ``httpx.Client`` is set to:

* no redirect is followed (a 3xx comes back as a body-less reply, which the
  protocol turns into a ``ServiceError`` whose code is the status);
* ``Accept-Encoding: identity`` is asked for, and a reply is read as a
  stream and kept only up to ``MAX_RESPONSE_BYTES`` *after* decoding, so a
  gzip bomb or a huge body costs at most that much memory;
* an attempt can be given a total deadline (``attempt_timeout``): async, the
  whole exchange is cancelled at it; sync, connect and read get what is left
  of it and it is checked after the headers and between body chunks, so a
  server dribbling its reply head byte by byte can overrun it (urllib3, and
  so botocore, have the same limit);
* httpx's exceptions become ours: network failures a ``TransportError``
  (retried), local refusals (a URL or header httpx will not send) a
  ``ConfigurationError`` (never retried, never echoing the value).
"""

from __future__ import annotations

import functools
import logging
import re
import socket
import time

import httpx

from ._actions import Outcome, Send
from ._body import BoundedBody
from ._engines import DEADLINE_EXTENSION, EngineProtocolError
from ._errors import (
    ConfigurationError,
    ConnectError,
    ConnectionClosedError,
    ImageBuilderError,
    TransportError,
    TransportTimeoutError,
    chain_of,
)
from ._http import HttpResponse
from ._text import printable

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
    elif isinstance(exc, httpx.ProxyError):  # the request never reached the endpoint
        error = ConnectError(f"could not connect through the proxy: {exc}")
    elif isinstance(exc, OSError) and not isinstance(exc, httpx.HTTPError):
        # Only from older httpcore: a raw socket or TLS failure while connecting.
        error = ConnectError(f"could not connect: {type(exc).__name__}: {exc}")
    elif isinstance(exc, EngineProtocolError):  # the adapter's own words, shown whole
        error = ConnectionClosedError(f"connection closed before a complete response: {exc}")
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
    # The engine's own exception stays out of the chain: its text and its
    # attributes (aiohttp's request_info, urllib3's pool) can hold what a
    # server sent back or the proxy's Proxy-Authorization header. A resolver's
    # failure is kept, as a fresh copy: the command names the host from it.
    unresolved = next((e for e in chain_of(exc) if isinstance(e, socket.gaierror)), None)
    exc.__cause__ = None
    exc.__context__ = None if unresolved is None else socket.gaierror(*unresolved.args)
    error.__cause__ = exc
    error.__suppress_context__ = True
    return error


def _deadline_error(seconds: float) -> TransportTimeoutError:
    return TransportTimeoutError(f"timed out: the attempt took longer than {seconds:g} s")


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


class _StandardReasonPhrase(logging.Filter):
    """httpx's request log line with the status's standard phrase, not the server's.

    ``Client.send`` logs each reply's reason phrase at INFO; with a user's
    client (httpcore) it is the server's own, which a hostile one can fill
    with what we sent it (the session token).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) == 5
            and isinstance(args[3], int)
            and str(record.msg).startswith("HTTP Request:")
        ):
            record.args = (*args[:4], httpx.codes.get_reason_phrase(args[3]))
        return True


logging.getLogger("httpx").addFilter(_StandardReasonPhrase())


def send(http: httpx.Client, request: httpx.Request, deadline: float | None) -> Outcome:
    """Send ``request`` with ``http`` and read the reply within the bounds.

    The deadline is checked after the headers and between body chunks; each
    socket operation is bounded by the phase timeouts, which
    :func:`phase_timeouts` caps at the deadline. The library's own transport
    also gets the deadline's instant (:data:`DEADLINE_EXTENSION`) and gives
    connect and read what is left of it.

    Args:
        http: the client to send with, through ``http.send()``.
        request: from :func:`build_request`.
        deadline: seconds the whole attempt may take, or None.
    """
    start = time.monotonic()
    if deadline is not None:
        request.extensions[DEADLINE_EXTENSION] = start + deadline
    try:
        response = http.send(request, auth=None, follow_redirects=False, stream=True)
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        # OSError: httpcore before 1.0 lets a failed TLS handshake's
        # ssl.SSLCertVerificationError out unmapped.
        return _failed_by(exc, start, deadline)
    try:
        headers = _headers(response)
        if 300 <= response.status_code < 400:
            return Outcome(response=_redirect(response, headers), elapsed=time.monotonic() - start)
        if deadline is not None and time.monotonic() - start > deadline:
            return Outcome(error=_deadline_error(deadline), elapsed=time.monotonic() - start)
        body = _body_for(response)
        for raw in _already_read(response) or response.iter_raw():
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


async def asend(
    http: httpx.AsyncClient,
    request: httpx.Request,
    deadline: float | None,
) -> Outcome:
    """The asyncio twin of :func:`send`; the deadline covers the whole exchange.

    Args:
        http: the client to send with, through ``http.send()``.
        request: from :func:`build_request`.
        deadline: seconds the whole exchange may take, or None.
    """
    start = time.monotonic()
    if deadline is None:
        return await _asend(http, request, start)
    import asyncio

    try:
        return await asyncio.wait_for(_asend(http, request, start), deadline)
    except asyncio.TimeoutError:
        return Outcome(error=_deadline_error(deadline), elapsed=time.monotonic() - start)


async def _asend(http: httpx.AsyncClient, request: httpx.Request, start: float) -> Outcome:
    try:
        response = await http.send(request, auth=None, follow_redirects=False, stream=True)
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
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
