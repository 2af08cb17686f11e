"""A tiny HTTP/1.1 server on 127.0.0.1 in a background thread, for tests.

A handler function receives each request as plain data and returns a
:class:`Reply`, which can also misbehave on purpose: drop the connection,
truncate the body, or answer late.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import attrs

from .._http import redacted


@attrs.frozen(kw_only=True, repr=False)
class ReceivedRequest:
    """A request as the server read it off the socket."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    def __repr__(self) -> str:
        return (
            f"ReceivedRequest(method={self.method!r}, path={self.path!r}, "
            f"query={self.query!r}, headers={redacted(self.headers)!r}, body={self.body!r})"
        )


@attrs.frozen(kw_only=True)
class Reply:
    """What the server answers; the flags make it misbehave on purpose.

    Attributes:
        drop: read the request, then close the connection without a reply.
        truncate_to: announce the full Content-Length but send only this many bytes.
        delay: seconds to wait before replying.
        chunks: a factory of body pieces sent one by one after ``body``, each
            after ``chunk_delay`` seconds (a huge or dribbling body without
            holding it in memory). Without a Content-Length in ``headers``
            the body ends when the connection closes.
        chunk_delay: seconds to wait before each piece of ``chunks``.
    """

    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    drop: bool = False
    truncate_to: int | None = None
    delay: float = 0.0
    chunks: Callable[[], Iterable[bytes]] | None = None
    chunk_delay: float = 0.0


Handler = Callable[[ReceivedRequest], Reply]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each reply
    # would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests and the demo print what matters themselves

    def _refuse(self, status: int, reason: str) -> None:
        self.close_connection = True
        body = reason.encode()
        self.send_response_only(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        # A Content-Length that is not a plain decimal of at most 12 digits
        # ("abc", "-1", 10**30) gets a 400 instead of killing the handler
        # thread; a plausible one past MAX_REQUEST_BODY a 413.
        raw_length = (self.headers.get("Content-Length") or "0").strip()
        if not (raw_length.isascii() and raw_length.isdigit() and len(raw_length) <= 12):
            self._refuse(400, "bad Content-Length")
            return
        if int(raw_length) > MAX_REQUEST_BODY:
            self._refuse(413, "request body too large")
            return
        length = int(raw_length)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = ReceivedRequest(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers=tuple(self.headers.items()),
            body=body,
        )
        reply = self.server.handler(request)
        if reply.delay and self.server.stopping.wait(reply.delay):
            self.close_connection = True
            return
        if reply.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response_only(reply.status)
        names = {k.lower() for k, _ in reply.headers}
        if "date" not in names:  # a reply may bring its own clock
            self.send_header("Date", self.date_time_string())
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.chunks is not None and "content-length" not in names:
            self.close_connection = True
            self.send_header("Connection", "close")
        elif "content-length" not in names:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if reply.chunks is not None:
            self._stream(reply)
            return
        if reply.truncate_to is not None:
            self.wfile.write(reply.body[: reply.truncate_to])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(reply.body)

    def _stream(self, reply: Reply) -> None:
        assert reply.chunks is not None
        try:
            self.wfile.write(reply.body)
            for chunk in reply.chunks():
                if reply.chunk_delay and self.server.stopping.wait(reply.chunk_delay):
                    break
                if self.server.stopping.is_set():
                    break
                self.wfile.write(chunk)
                self.wfile.flush()
        except OSError:  # the client stopped reading and closed: that is the point
            pass
        self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = _handle


#: The largest request body the server reads; a larger Content-Length gets a 413.
MAX_REQUEST_BODY = 16 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 turns a burst of connects into SYN
    # retries (a second each); a fan-out test opens hundreds at once.
    request_queue_size = 1024

    def __init__(self, port: int, handler: Handler) -> None:
        self.handler = handler
        self.stopping = threading.Event()
        super().__init__(("127.0.0.1", port), _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-reply is the client's business (tests
        # do it on purpose); anything else is a bug worth a traceback.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """Serve ``handler`` on 127.0.0.1 (a free port by default) until stopped.

    Example:
        >>> with LoopbackServer(lambda request: Reply(body=b"hi")) as server:
        ...     server.endpoint_url.startswith("http://127.0.0.1:")
        True
    """

    def __init__(self, handler: Handler, *, port: int = 0) -> None:
        self._handler = handler
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on (known once started)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Bind the port and start serving in a daemon thread."""
        if self._server is None:
            self._server = _Server(self._requested_port, self._handler)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.stopping.set()
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
