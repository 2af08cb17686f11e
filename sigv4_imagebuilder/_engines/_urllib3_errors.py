"""urllib3's (and http.client's) exceptions as httpx's, in words that quote nothing a server sent.

http.client's texts quote a reply's bad line, and a CONNECT refusal carries the
proxy's reason phrase: a hostile server can fill either with what it was sent (the
session token). Only type names, OS error texts and status codes are kept, and
urllib3's warning about malformed header lines is logged without those lines.
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
import ssl

import httpx
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    LocationValueError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
    URLSchemeUnknown,
)

from ._settings import EngineProtocolError

__all__ = ["map_error"]


class _UnparsedWithheld(logging.Filter):
    """urllib3's warning about a reply's malformed header lines, without those lines.

    urllib3 logs them as received, at WARNING (shown with no logging set up), and
    a hostile server can fill them with what we sent it: the session token.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Failed to parse headers"):
            args = record.args
            if isinstance(args, tuple) and args:
                record.args = (args[0], "malformed header lines (not shown)")
            record.exc_info = None
            record.exc_text = None
        return True


for _name in ("urllib3.connection", "urllib3.connectionpool"):  # where 2.x versions log it
    logging.getLogger(_name).addFilter(_UnparsedWithheld())


def _why(exc: BaseException) -> str:
    """``exc`` in words that quote nothing a server sent: its type, an OS error's own text."""
    inner: BaseException | None = exc
    while inner is not None:
        if isinstance(inner, OSError) and inner.strerror:
            return f"{type(inner).__name__}: {inner.strerror}"
        wrapped = _wrapped(inner)
        inner = wrapped or inner.__cause__ or inner.__context__
    wrapped = _wrapped(exc)
    return type(wrapped or exc).__name__


def _tunnel_status(exc: BaseException) -> str | None:
    # http.client refuses a CONNECT answered other than 2xx with an OSError
    # whose text holds the status and the proxy's reason phrase: the status
    # (three digits) alone is kept.
    inner = _wrapped(exc)
    if isinstance(inner, OSError) and inner.args and isinstance(inner.args[0], str):
        found = re.match(r"Tunnel connection failed: ([1-5][0-9][0-9])\b", inner.args[0])
        return found.group(1) if found else None
    return None


def _wrapped(exc: BaseException) -> BaseException | None:
    # urllib3's ProtocolError and ProxyError carry the error they stand for as
    # their second argument.
    if isinstance(exc, (ProtocolError, ProxyError)) and len(exc.args) > 1:
        inner = exc.args[1]
        return inner if isinstance(inner, BaseException) else None
    return None


#: What fails before a request reaches the endpoint (the proxy refused, could not be
#: reached or spoke no TLS): a ProxyError wrapping one of these is the proxy's.
_NOT_SENT = (
    NewConnectionError,
    ConnectTimeoutError,
    SSLError,
    ssl.SSLError,
    ConnectionRefusedError,
    socket.gaierror,
)


def map_error(exc: Exception) -> httpx.HTTPError | httpx.InvalidURL:
    """urllib3's (or http.client's) exception as httpx's; the caller raises it ``from None``."""
    if isinstance(exc, URLSchemeUnknown):  # before LocationValueError, its base
        return httpx.UnsupportedProtocol("the URL's scheme is not http or https")
    if isinstance(exc, LocationValueError):
        return httpx.InvalidURL("the URL's host is not valid")
    if isinstance(exc, ProxyError):
        status = _tunnel_status(exc)
        if status:
            return httpx.ProxyError(f"the proxy answered {status}")
        inner = _wrapped(exc)
        if isinstance(inner, Exception) and not isinstance(inner, _NOT_SENT):
            # urllib3 calls any failure a ProxyError once http.client has closed
            # the connection, even a reply that broke off after the request was
            # sent: that one is the reply's failure, not the proxy's.
            return map_error(inner)
        return httpx.ProxyError(_why(exc))
    if isinstance(exc, SSLError):
        return httpx.ConnectError(f"TLS failed: {_why(exc)}")
    if isinstance(exc, NewConnectionError):  # before ConnectTimeoutError, its base
        return httpx.ConnectError(_why(exc))
    if isinstance(exc, ConnectTimeoutError):
        return httpx.ConnectTimeout("timed out connecting")
    if isinstance(exc, ReadTimeoutError):
        # urllib3 reports a stalled TLS handshake as a read timeout; ssl's own
        # words tell it apart, and nothing was sent then.
        if "handshake" in str(exc.__cause__ or ""):
            return httpx.ConnectTimeout("timed out in the TLS handshake")
        return httpx.ReadTimeout("timed out reading the reply")
    if (
        isinstance(exc, ProtocolError)
        and len(exc.args) > 1
        and isinstance(exc.args[1], TimeoutError)
    ):
        # urllib3 gives sending the connect timeout; a read timeout is its own error.
        return httpx.WriteTimeout("timed out sending the request")
    if isinstance(exc, (ProtocolError, InvalidHeader, http.client.HTTPException)):
        # http.client's own texts quote the reply's bad line, which a hostile
        # server can fill with what we sent it: only type names are kept.
        return EngineProtocolError(f"the reply broke off or is not HTTP/1.1 ({_why(exc)})")
    if isinstance(exc, OSError):
        return httpx.ReadError(_why(exc))
    return httpx.TransportError(f"urllib3 failed: {type(exc).__name__}")
