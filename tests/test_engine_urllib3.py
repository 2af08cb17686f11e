"""The urllib3 engine under the sync client: real sockets on 127.0.0.1 that behave, and that do not.

Each server is a listening socket on 127.0.0.1 with a thread per connection running
``handler(peer, index)``, so each case scripts exactly when bytes go out and when the
connection closes. Cases drive ``Urllib3Transport(EngineSettings(...))`` under an
``httpx.Client`` (only httpx's exceptions come out) or the library's own
``ImageBuilderClient`` (only the library's typed errors come out). urllib3 owns the
pool now: what is checked is what users see, not how the pool keeps its books.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import logging
import random
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from conftest import ARN, CREDS, NO_SLEEP, SECRET, SESSION_TOKEN
from hostile import NEEDS_PYTEST_HTTPX, PASSWORD, assert_no_secrets

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._engines import EngineSettings
from sigv4_imagebuilder._engines._urllib3 import Urllib3Transport

TLS_DIR = Path(__file__).parent / "tls"
CA = str(TLS_DIR / "selfsigned.pem")
CANCEL_BODY = json.dumps(
    {"requestId": "r", "clientToken": "t", "imageBuildVersionArn": ARN}
).encode()
#: An environment with no proxy and no shared files: the library's clients read
#: this instead of os.environ, so no setting of the machine's sends anything away.
NO_ENV = {
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def reply(body: bytes = b"hello", *headers: bytes, status: bytes = b"200 OK") -> bytes:
    head = b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
    return head + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


def cancel_reply(body: bytes = CANCEL_BODY) -> bytes:
    return reply(body, b"Content-Type: application/json", b"x-amzn-RequestId: r")


class Peer:
    """The server's side of one connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb")

    def request(self) -> bytes | None:
        """One whole request (head and Content-Length body), or None at end of stream."""
        try:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = self.rfile.readline(65536)
                if not line:
                    return None
                head += line
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = self.rfile.read(length) if length else b""
        except (OSError, ValueError):
            return None
        return head + body if len(body) == length else None

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def drain(self) -> None:
        """Read until the client closes the connection."""
        with contextlib.suppress(OSError, ValueError):
            while self.rfile.read(65536):
                pass


Handler = Callable[[Peer, int], None]


class Server:
    """Counts connections; every one runs ``handler(peer, index)`` in its own thread."""

    def __init__(self, handler: Handler | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler or self.keep_alive
        self.tls = tls
        self.connections = 0
        self.open = 0
        self.requests: list[bytes] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"

    def record(self, request: bytes) -> None:
        with self._lock:
            self.requests.append(request)

    def keep_alive(self, peer: Peer, index: int) -> None:
        """Answer every request on the connection with a CancelImageCreation reply."""
        while (request := peer.request()) is not None:
            self.record(request)
            peer.send(cancel_reply())

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
                self.open += 1
                self._socks.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock, index), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, index: int) -> None:
        try:
            if self.tls is not None:
                sock.settimeout(5)
                sock = self.tls.wrap_socket(sock, server_side=True)
                sock.settimeout(None)
            self.handler(Peer(sock), index)
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                self.open -= 1
            sock.close()

    def __enter__(self) -> Server:
        thread = threading.Thread(target=self._accept, daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for sock in socks:  # wake every handler blocked on its client
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)


def until(condition: Callable[[], object], seconds: float = 5.0) -> None:
    """Wait until ``condition()`` holds (the machine may be slow)."""
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError("the condition never held")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def engine(timeout: Any = 5.0, **settings: Any) -> httpx.Client:
    """An httpx client over the urllib3 engine (and never the environment's proxies)."""
    transport = Urllib3Transport(EngineSettings(**settings))
    return httpx.Client(transport=transport, timeout=timeout, trust_env=False)


def library(url: str, **kwargs: Any) -> sib.ImageBuilderClient:
    """The library's own sync client, one attempt, reading ``NO_ENV`` (or ``env=``)."""
    options: dict[str, Any] = {
        "region": "us-east-1",
        "credentials": CREDS,
        "endpoint_url": url,
        "max_attempts": 1,
        "retry_policy": NO_SLEEP,
        "env": NO_ENV,
        **kwargs,
    }
    return sib.ImageBuilderClient(**options)


def call(url: str, **kwargs: Any) -> Any:
    """One CancelImageCreation with a fresh library client: the result or the error."""
    try:
        with library(url, **kwargs) as client:
            return client.cancel_image_creation(ARN)
    except sib.ImageBuilderError as exc:
        return exc


def _server_tls() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CA, str(TLS_DIR / "selfsigned.key"))
    return context


def _reset(sock: socket.socket) -> None:
    # Close with an RST instead of a FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def _header(request: bytes, name: bytes) -> bytes:
    for line in request.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return b""


# --- keep-alive ---


def test_a_kept_alive_connection_carries_the_next_request() -> None:
    with Server() as server, engine() as client:
        for _ in range(3):
            response = client.post(server.url + "/x", content=b"{}")
            assert response.status_code == 200 and response.content == CANCEL_BODY
            assert response.http_version == "HTTP/1.1" and response.reason_phrase == "OK"
        assert server.connections == 1 and len(server.requests) == 3


def test_the_library_client_keeps_its_connection_alive() -> None:
    with Server() as server, library(server.url) as client:
        for _ in range(3):
            assert client.cancel_image_creation(ARN).image_build_version_arn == ARN
        assert server.connections == 1 and len(server.requests) == 3


def test_connection_close_from_the_server_is_honoured() -> None:
    def close_after_one(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(reply(b"bye", b"Connection: close"))
        peer.drain()

    with Server(close_after_one) as server, engine() as client:
        for _ in range(2):
            assert client.get(server.url).content == b"bye"
        assert server.connections == 2
        until(lambda: server.open == 0)  # and the client closed its side


def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    def one_then_close(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(reply())
        # no Connection: close, the server just hangs up afterwards

    with Server(one_then_close) as server, engine() as client:
        client.get(server.url)
        until(lambda: server.open == 0)
        time.sleep(0.05)  # the FIN reaches the client's socket
        assert client.get(server.url).content == b"hello"  # urllib3 saw the end of stream
        assert server.connections == 2


def test_an_idle_connection_that_received_bytes_is_not_reused() -> None:
    # A stray reply arrives on the idle connection: taken for the next
    # request's reply, it would shift every later reply by one.
    stray_sent = threading.Event()

    def chatty(peer: Peer, index: int) -> None:
        while peer.request() is not None:
            peer.send(reply(b"real %d" % index))
            if index == 0:
                time.sleep(0.05)  # after the client has read the real reply
                peer.send(reply(b"stray"))
                stray_sent.set()

    with Server(chatty) as server, engine() as client:
        assert client.get(server.url).content == b"real 0"
        assert stray_sent.wait(5)  # sent over loopback: in the client's socket now
        assert client.get(server.url).content == b"real 1"
        assert server.connections == 2


@pytest.mark.parametrize("max_attempts", [1, 2])
def test_a_reused_connection_closed_under_the_request_is_an_error_not_a_resend(
    max_attempts: int,
) -> None:
    """The server reads the second call's request on the kept-alive connection and
    hangs up without a byte: it may have acted on it, so urllib3 (called with
    ``retries=False``) must not send it again; only the library's attempts may."""

    def drop_second(peer: Peer, index: int) -> None:
        while (request := peer.request()) is not None:
            server.record(request)
            if index == 0 and len(server.requests) == 2:
                return  # close without answering
            peer.send(cancel_reply())

    with Server(drop_second) as server, library(server.url, max_attempts=max_attempts) as client:
        client.cancel_image_creation(ARN)
        if max_attempts == 1:
            with pytest.raises(sib.ConnectionClosedError):
                client.cancel_image_creation(ARN)
        else:  # the library's retry, on a new connection
            assert client.cancel_image_creation(ARN).image_build_version_arn == ARN
        assert len(server.requests) == 1 + max_attempts  # once per attempt
        assert server.connections == max_attempts


def test_a_fresh_connection_closed_without_a_reply_is_an_error() -> None:
    def hang_up(peer: Peer, index: int) -> None:
        peer.request()

    with Server(hang_up) as server, engine() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(server.url)
        assert server.connections == 1  # never retried


# --- many threads ---


def test_in_flight_requests_never_exceed_max_concurrency(caplog: pytest.LogCaptureFixture) -> None:
    """Eight threads, ``max_concurrency=3``: three connections, no fourth; urllib3's
    pool (``block=False``) never has to open and discard one ("pool is full")."""
    caplog.set_level(logging.DEBUG)
    release = threading.Event()
    lock = threading.Lock()
    held = peak = 0

    def hold(peer: Peer, index: int) -> None:
        nonlocal held, peak
        while peer.request() is not None:
            with lock:
                held += 1
                peak = max(peak, held)
            release.wait(5)
            with lock:
                held -= 1
            peer.send(cancel_reply())

    results: list[str] = []
    with Server(hold) as server, library(server.url, max_concurrency=3) as client:
        threads = [
            threading.Thread(
                target=lambda: results.append(client.cancel_image_creation(ARN).request_id)
            )
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        until(lambda: peak == 3)
        time.sleep(0.1)  # no fourth request comes
        assert peak == 3 and server.connections == 3
        release.set()
        for thread in threads:
            thread.join(10)
        assert results == ["r"] * 8 and server.connections == 3
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_fifty_threads_share_one_client() -> None:
    """Every reply names its request's client token: a connection used by two
    threads at once would mix replies up."""
    in_use: set[int] = set()
    lock = threading.Lock()
    overlaps: list[int] = []

    def echo(peer: Peer, index: int) -> None:
        while (request := peer.request()) is not None:
            with lock:
                if index in in_use:
                    overlaps.append(index)
                in_use.add(index)
            token = json.loads(request.split(b"\r\n\r\n", 1)[1])["clientToken"]
            time.sleep(random.random() * 0.001)
            with lock:
                in_use.discard(index)
            body = {"requestId": token, "clientToken": token, "imageBuildVersionArn": ARN}
            peer.send(cancel_reply(json.dumps(body).encode()))

    failures: list[str] = []

    def worker(n: int) -> None:
        for i in range(6):
            token = f"t-{n}-{i}"
            try:
                result = client.cancel_image_creation(ARN, client_token=token)
            except sib.ImageBuilderError as exc:  # pragma: no cover - the failure tested for
                failures.append(repr(exc))
                continue
            if result.client_token != token:  # pragma: no cover - the failure tested for
                failures.append(f"{token} got {result.client_token}")

    with Server(echo) as server, library(server.url, max_concurrency=10) as client:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == [] and overlaps == []
        assert server.connections <= 10
    until(lambda: server.open == 0)  # closing the client closed them all


# --- timeouts and failures: httpx's exceptions from the engine, ours from the client ---


def test_connection_refused_is_a_connect_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with engine() as client, pytest.raises(httpx.ConnectError, match="ConnectionRefusedError"):
        client.get(url)
    assert isinstance(call(url), sib.ConnectError)


def test_an_unresolvable_host_is_a_connect_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's resolver is not local (resolv.conf names a server), so a real
    lookup of a ``.invalid`` name would leave it: the lookup fails in a stand-in for
    ``socket.getaddrinfo`` instead, and any other name goes to the real one."""
    real = socket.getaddrinfo

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    url = "http://imagebuilder.example.invalid/"
    with engine() as client, pytest.raises(httpx.ConnectError, match="gaierror"):
        client.get(url)
    assert isinstance(call(url), sib.ConnectError)


def test_a_host_label_longer_than_63_bytes_is_refused_before_any_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """urllib3 refuses such a name itself (``LocationParseError``), so it is a bad URL
    (``InvalidURL``), not a failed connection: stricter than the old ``_wire``,
    which gave ``ConnectError``. The library's client calls it a configuration error."""

    def lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no lookup may be made")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    url = f"http://{'a' * 64}.invalid/"
    with engine() as client, pytest.raises(httpx.InvalidURL):
        client.get(url)
    assert isinstance(call(url), sib.ConfigurationError)


def test_a_stalled_tls_handshake_is_a_connect_timeout() -> None:
    """urllib3 reports it as a read timeout; the adapter tells it apart (nothing was sent)."""

    def silent(peer: Peer, index: int) -> None:
        peer.drain()

    with Server(silent) as server, engine(httpx.Timeout(5.0, connect=0.2)) as client:
        https = server.url.replace("http:", "https:")
        with pytest.raises(httpx.ConnectTimeout):
            client.get(https)
        error = call(https, timeout=httpx.Timeout(5.0, connect=0.2))
        assert isinstance(error, sib.TransportTimeoutError) and "ConnectTimeout" in str(error)


def _silent(peer: Peer, index: int) -> None:
    peer.drain()


def _stalled_body(peer: Peer, index: int) -> None:
    peer.request()
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    peer.drain()


@pytest.mark.parametrize("handler", [_silent, _stalled_body])
def test_a_silent_server_or_a_stalled_body_is_a_read_timeout(handler: Handler) -> None:
    with Server(handler) as server, engine(httpx.Timeout(5.0, read=0.2)) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(server.url)
        until(lambda: server.open == 0)  # the connection was closed, not kept
        error = call(server.url, timeout=httpx.Timeout(5.0, read=0.2))
        assert isinstance(error, sib.TransportTimeoutError)


def test_a_server_that_never_reads_is_a_write_timeout() -> None:
    """urllib3 gives sending a request the *connect* timeout (httpx's ``write`` phase
    is not used) and reports it as a ``ProtocolError``; the adapter calls it a
    ``WriteTimeout``."""

    def deaf(peer: Peer, index: int) -> None:
        server.stop.wait()

    with (
        Server(deaf) as server,
        engine(httpx.Timeout(5.0, connect=0.3)) as client,
        pytest.raises(httpx.WriteTimeout),
    ):
        client.post(server.url, content=b"x" * (32 * 1024 * 1024))


def _dribble(peer: Peer, data: bytes, stop: threading.Event, every: float = 0.05) -> None:
    for byte in data:
        if stop.wait(every):
            return
        peer.send(bytes([byte]))


def test_a_dribbled_body_is_cut_at_the_attempt_deadline() -> None:
    # One byte every 50 ms: each read is well within the read timeout, and the
    # body would take 10 s. The attempt's deadline ends it.
    def dribble(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n")
        _dribble(peer, b"a" * 200, server.stop)

    with Server(dribble) as server:
        start = time.monotonic()
        error = call(server.url, attempt_timeout=0.3, timeout=5)
        assert isinstance(error, sib.TransportTimeoutError), error
        assert "longer than 0.3 s" in str(error)
        assert 0.25 < time.monotonic() - start < 2
        until(lambda: server.open == 0)


def test_a_stalled_body_ends_at_the_attempt_deadline_not_the_read_timeout() -> None:
    # The engine gives each body read what is left of the attempt.
    with Server(_stalled_body) as server:
        start = time.monotonic()
        error = call(server.url, attempt_timeout=0.3, timeout=5)
        assert isinstance(error, sib.TransportTimeoutError) and "longer than 0.3 s" in str(error)
        assert time.monotonic() - start < 2


def test_a_dribbled_reply_head_overruns_the_attempt_timeout_a_documented_limit() -> None:
    """A documented limit of the sync client: urllib3 (like botocore) gives each
    socket read of the reply head the read timeout, not what is left of the
    attempt, so a head dribbled over ~1 s is read whole despite
    ``attempt_timeout=0.3``; only then does the deadline's ``TransportTimeoutError``
    end the call. The async client cancels at the deadline itself."""
    head = b"HTTP/1.1 200 OK\r\nX-Slow: aaaa\r\n"  # 31 bytes, 30 ms apart: ~0.9 s

    def dribble(peer: Peer, index: int) -> None:
        peer.request()
        _dribble(peer, head, server.stop, every=0.03)
        with contextlib.suppress(OSError):
            peer.send(b"Content-Length: 0\r\n\r\n")
            peer.drain()

    with Server(dribble) as server:
        start = time.monotonic()
        error = call(server.url, attempt_timeout=0.3, timeout=5)
        elapsed = time.monotonic() - start
        assert isinstance(error, sib.TransportTimeoutError), error
        assert "longer than 0.3 s" in str(error)
        assert elapsed > 0.8  # the whole head was read first


# --- broken replies ---

BROKEN = {
    "cut-short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
    "chunked-cut-short": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc",
    "garbage": b"garbage, not HTTP\r\n\r\n",
    "no-reason-bad-code": b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
    "unknown-version": b"HTTP/9.9 200 OK\r\nContent-Length: 0\r\n\r\n",
    "tls-bytes-on-a-plain-port": bytes.fromhex("160303003a020000360303") + bytes(40),
    "oversized-head-line": b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 300_000,
    "20000-headers": b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 20_000 + b"\r\n",
    "conflicting-content-length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhelloxx"
    ),
}


@pytest.mark.parametrize("wire", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_reply_is_a_protocol_error_and_a_connection_closed_error(wire: bytes) -> None:
    """http.client is stricter than the old h11 parser on the header count (100 at
    most, where h11 bounded only the head's size) and urllib3 refuses differing
    ``Content-Length`` values with its ``InvalidHeader``, which the adapter maps
    to ``RemoteProtocolError`` like h11's refusal."""

    def broken(peer: Peer, index: int) -> None:
        peer.request()
        with contextlib.suppress(OSError):
            peer.send(wire)

    with Server(broken) as server, engine() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(server.url)
        assert isinstance(call(server.url), sib.ConnectionClosedError)
        until(lambda: server.open == 0)


def test_an_http10_reply_is_read_to_the_close() -> None:
    def http10(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + CANCEL_BODY)

    with Server(http10) as server, engine() as client:
        assert client.get(server.url).content == CANCEL_BODY
        assert call(server.url).image_build_version_arn == ARN


def test_100_continue_is_skipped() -> None:
    def continue_first(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(b"HTTP/1.1 100 Continue\r\n\r\n" + cancel_reply())
        peer.drain()

    with Server(continue_first) as server, engine() as client:
        assert client.get(server.url).content == CANCEL_BODY
        assert call(server.url).image_build_version_arn == ARN


def test_another_informational_reply_is_a_protocol_error() -> None:
    """http.client skips only ``100 Continue``; a ``103 Early Hints`` would pass for
    the final reply (a ``ServiceError`` with code 103, the real reply left
    unread). h11 skipped every 1xx; the adapter refuses the exchange instead,
    and the library's retry takes it from there."""

    def early_hints(peer: Peer, index: int) -> None:
        while peer.request() is not None:
            peer.send(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + cancel_reply())

    with Server(early_hints) as server, engine() as client:
        with pytest.raises(httpx.RemoteProtocolError, match="informational"):
            client.get(server.url)
        assert isinstance(call(server.url), sib.ConnectionClosedError)


def test_a_reset_connection_is_a_read_error() -> None:
    def reset(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        time.sleep(0.05)
        _reset(peer.sock)

    with Server(reset) as server, engine() as client:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            client.get(server.url)
        assert isinstance(call(server.url), sib.ConnectionClosedError)


def test_hostile_replies_only_ever_raise_httpx_errors() -> None:
    # Random cuts, resets and garbage at random points: whatever happens, the
    # caller sees a reply or an httpx.TransportError, never OSError,
    # http.client's or urllib3's.
    rng = random.Random(7)
    good = reply(b"fine", b"Content-Type: text/plain")
    plans = [(rng.randrange(len(good) + 1), rng.choice("cfrg")) for _ in range(60)]
    plans[::10] = [(len(good), "f")] * 6  # and some whole replies, kept alive

    def hostile(peer: Peer, index: int) -> None:
        while (request := peer.request()) is not None:
            cut, how = plans[int(_header(request, b"X-Plan"))]
            if how == "g":
                peer.send(good[:cut] + bytes(rng.randrange(256) for _ in range(20)) + b"\r\n\r\n")
            else:
                peer.send(good[:cut])
            if how == "r":
                _reset(peer.sock)
                return
            if how in "cg" or cut < len(good):
                return

    outcomes: list[str] = []
    with Server(hostile) as server, engine() as client:
        for n in range(len(plans)):
            try:
                response = client.get(server.url, headers={"X-Plan": str(n)})
                outcomes.append(f"ok {response.status_code}")
            except httpx.TransportError as exc:
                # The adapter's protocol errors are a subclass of httpx's.
                kind = (
                    httpx.RemoteProtocolError
                    if isinstance(exc, httpx.RemoteProtocolError)
                    else type(exc)
                )
                outcomes.append(kind.__name__)
    assert len(outcomes) == len(plans)
    assert any(o.startswith("ok") for o in outcomes)
    assert {"RemoteProtocolError"} <= set(outcomes)


def test_an_unsupported_scheme_and_a_bad_header_are_local_errors() -> None:
    """http.client refuses a header value with a newline with a ``ValueError`` that
    quotes the value; the adapter says ``LocalProtocolError`` and quotes nothing."""
    with Server() as server, engine() as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            client.get("ftp://127.0.0.1/")
        with pytest.raises(httpx.LocalProtocolError) as info:
            client.get(server.url, headers={"X-Bad": "a\nb" + SECRET})
        assert_no_secrets(info.value)
        with pytest.raises(httpx.LocalProtocolError):
            client.get(server.url, headers={"X-Bad:name": "v"})
        time.sleep(0.05)
        assert server.requests == []  # nothing sent
    with pytest.raises(sib.ConfigurationError):
        library("ftp://127.0.0.1/").cancel_image_creation(ARN)


# --- signals ---


@contextlib.contextmanager
def interrupt_after(seconds: float) -> Iterator[None]:
    """A KeyboardInterrupt in this (the main) thread after ``seconds``, as Ctrl-C would."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
@pytest.mark.parametrize("where", ["head", "body"])
def test_an_interrupt_mid_read_leaves_the_client_usable(where: str) -> None:
    # With one place (max_concurrency=1), a place or a connection lost to the
    # interrupt would make the next call hang or fail.
    def half(peer: Peer, index: int) -> None:
        while peer.request() is not None:
            if index == 0 and where == "body":
                peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
            if index == 0:
                peer.drain()  # the rest never comes
                return
            peer.send(cancel_reply())

    with Server(half) as server, library(server.url, max_concurrency=1, timeout=5) as client:
        with pytest.raises(KeyboardInterrupt), interrupt_after(0.2):
            client.cancel_image_creation(ARN)
        until(lambda: server.open == 0)  # the half-read connection was closed
        assert client.cancel_image_creation(ARN).image_build_version_arn == ARN
        assert server.connections == 2


# --- TLS and the CA bundle ---


def test_tls_with_a_trusted_certificate_and_its_host_name() -> None:
    with Server(tls=_server_tls()) as server, engine(ca_bundle=CA) as client:
        for _ in range(2):
            assert client.get(server.url).content == CANCEL_BODY
        assert server.connections == 1
        if "127.0.0.1" not in {a[4][0] for a in socket.getaddrinfo("localhost", None)}:
            pytest.skip("localhost is not 127.0.0.1 here")
        # The certificate names 127.0.0.1 only: the same server as "localhost" is refused.
        with pytest.raises(httpx.ConnectError, match="TLS failed"):
            client.get(f"https://localhost:{server.port}/")


def test_a_self_signed_certificate_is_refused_by_default() -> None:
    with Server(tls=_server_tls()) as server, engine() as client:
        with pytest.raises(httpx.ConnectError, match="SSLCertVerificationError"):
            client.get(server.url)
        assert isinstance(call(server.url), sib.ConnectError)
        assert server.requests == []


@pytest.mark.parametrize("where", ["AWS_CA_BUNDLE", "profile", "REQUESTS_CA_BUNDLE"])
def test_the_configured_ca_bundle_is_trusted(where: str, tmp_path: Path) -> None:
    env = {**NO_ENV, "AWS_CONFIG_FILE": str(tmp_path / "config")}
    if where == "profile":
        (tmp_path / "config").write_text(f"[default]\nca_bundle = {CA}\n")
    else:
        env[where] = CA
    with Server(tls=_server_tls()) as server:
        assert call(server.url, env=env).image_build_version_arn == ARN
        assert len(server.requests) == 1


def test_a_missing_ca_bundle_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.pem")
    with pytest.raises(sib.ConfigurationError, match=r"nowhere\.pem"):
        library("https://127.0.0.1:1", env={**NO_ENV, "AWS_CA_BUNDLE": missing})


# --- proxies ---


class Proxy(Server):
    """A tiny HTTP proxy: answers absolute-form requests itself, tunnels CONNECT."""

    def __init__(self) -> None:
        super().__init__(self.serve)

    def serve(self, peer: Peer, index: int) -> None:
        request = peer.request()
        if request is None:
            return
        self.record(request)
        if not request.startswith(b"CONNECT "):
            peer.send(cancel_reply())
            while (request := peer.request()) is not None:
                self.record(request)
                peer.send(cancel_reply())
            return
        target = request.split(b" ")[1].decode()
        host, _, port = target.rpartition(":")
        assert host == "127.0.0.1"  # only ever loopback
        with socket.create_connection((host, int(port)), timeout=5) as upstream:
            peer.send(b"HTTP/1.1 200 Connection established\r\n\r\n")

            def pipe(source: socket.socket, sink: socket.socket) -> None:
                with contextlib.suppress(OSError):
                    while data := source.recv(65536):
                        sink.sendall(data)
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)

            back = threading.Thread(target=pipe, args=(upstream, peer.sock), daemon=True)
            back.start()
            pipe(peer.sock, upstream)
            back.join(5)


def test_an_environment_proxy_carries_the_requests() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with Proxy() as proxy:
        result = call(endpoint, env={**NO_ENV, "HTTP_PROXY": proxy.url})
    assert result.image_build_version_arn == ARN
    (request,) = proxy.requests
    # the absolute form a proxy is sent: the proxy, not the endpoint, got it
    assert request.startswith(f"PUT {endpoint}/".encode())


def test_no_proxy_is_honoured() -> None:
    with Proxy() as proxy, Server() as server:
        env = {**NO_ENV, "HTTP_PROXY": proxy.url, "NO_PROXY": "127.0.0.1"}
        assert call(server.url, env=env).image_build_version_arn == ARN
    assert proxy.requests == [] and len(server.requests) == 1


def test_the_proxy_settings_come_from_the_clients_env_not_os_environ(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Proxy() as proxy, Server() as server:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        assert call(server.url).image_build_version_arn == ARN  # env=NO_ENV: no proxy
    assert proxy.requests == [] and len(server.requests) == 1


def test_proxy_credentials_are_sent_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    expected = b"Basic " + base64.b64encode(f"me:{PASSWORD}@x".encode())
    with Proxy() as proxy:
        url = f"http://me:{PASSWORD}%40x@127.0.0.1:{proxy.port}"
        endpoint = f"http://127.0.0.1:{free_port()}"
        result = call(endpoint, env={**NO_ENV, "HTTP_PROXY": url})
        assert result.image_build_version_arn == ARN
        (request,) = proxy.requests
        assert _header(request, b"Proxy-Authorization") == expected
    # The same proxy, gone: the error names no password.
    error = call(endpoint, env={**NO_ENV, "HTTP_PROXY": url})
    assert isinstance(error, sib.TransportError), error
    with library(endpoint, env={**NO_ENV, "HTTP_PROXY": url}) as client:
        assert_no_secrets(error, client, caplog=caplog)


def test_an_https_request_is_tunnelled_through_the_proxy() -> None:
    with Server(tls=_server_tls()) as server, Proxy() as proxy:
        url = f"http://me:{PASSWORD}@127.0.0.1:{proxy.port}"
        env = {**NO_ENV, "HTTPS_PROXY": url, "AWS_CA_BUNDLE": CA}
        assert call(server.url, env=env).image_build_version_arn == ARN
    (connect,) = proxy.requests
    assert connect.startswith(f"CONNECT 127.0.0.1:{server.port} ".encode())
    assert _header(connect, b"Proxy-Authorization").startswith(b"Basic ")
    assert len(server.requests) == 1  # and the endpoint answered through the tunnel


# --- test tools and instrumentation see every request ---


@pytest.mark.parametrize("using", ["httpcore", "httpx"])
def test_respx_sees_every_request(using: str) -> None:
    with Server() as server:
        with respx.mock(using=using) as mock:
            route = mock.put(server.url + "/CancelImageCreation").respond(
                200, content=CANCEL_BODY, headers={"x-amzn-RequestId": "r"}
            )
            with library(server.url) as client:
                for _ in range(2):
                    assert client.cancel_image_creation(ARN).image_build_version_arn == ARN
        assert route.call_count == 2 and server.connections == 0  # nothing reached the socket
        # and once the mock is gone, the real server answers through urllib3
        assert call(server.url).image_build_version_arn == ARN
        assert server.connections == 1


@NEEDS_PYTEST_HTTPX
def test_pytest_httpx_sees_every_request(httpx_mock: Any) -> None:
    with Server() as server:
        for _ in range(2):
            httpx_mock.add_response(
                method="PUT", content=CANCEL_BODY, headers={"x-amzn-RequestId": "r"}
            )
        with library(server.url) as client:
            for _ in range(2):
                assert client.cancel_image_creation(ARN).image_build_version_arn == ARN
        assert len(httpx_mock.get_requests()) == 2 and server.connections == 0


def test_opentelemetry_sees_every_request() -> None:
    pytest.importorskip("opentelemetry.instrumentation.httpx")
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = HTTPXClientInstrumentor()
    with Server() as server:
        instrumentor.instrument(tracer_provider=provider)
        try:
            with library(server.url) as client:
                for _ in range(2):
                    assert client.cancel_image_creation(ARN).image_build_version_arn == ARN
        finally:
            instrumentor.uninstrument()
        assert len(server.requests) == 2  # real requests, through httpx's transport
    spans = exporter.get_finished_spans()
    assert len(spans) == 2 and all(s.attributes for s in spans)


def test_the_signature_verifying_stand_in_accepts_our_requests() -> None:
    from sigv4_imagebuilder.testing import LocalImageBuilder

    with LocalImageBuilder(credentials=CREDS, region="us-east-1") as local:
        local.add_image(ARN)
        with library(local.endpoint_url) as client:
            result = client.cancel_image_creation(ARN)
            assert client.get_image(ARN).image.state.status == "CANCELLED"
        assert result.image_build_version_arn == ARN


def test_the_request_bytes_are_what_httpx_built() -> None:
    """urllib3 adds no header (no second Host, User-Agent or Accept-Encoding) and
    keeps the names' case and order, as httpx's own transport sends them."""
    with Server() as server, engine() as ours, httpx.Client(trust_env=False) as stock:
        for http in (stock, ours):
            http.put(server.url + "/p?q=1&r=%2F", headers={"X-MiXed-Case": "v"}, content=b"b")
            http.get(server.url + "/caf%C3%A9?x=%20")
    theirs, mine = server.requests[:2], server.requests[2:]
    assert len(theirs) == len(mine) == 2
    assert theirs == mine
    assert mine[0].startswith(b"PUT /p?q=1&r=%2F HTTP/1.1\r\nHost: 127.0.0.1:")


# --- bodies ---


def test_a_body_is_yielded_as_it_arrives_chunked_or_sized() -> None:
    """Streamed: chunked, or sized past the 64 KiB the engine reads at once."""
    more = threading.Event()
    big = b"d" * (64 * 1024 + 1)
    heads = [
        (b"Transfer-Encoding: chunked", b"3\r\nabc\r\n", b"2\r\nde\r\n0\r\n\r\n", b"de"),
        (b"Content-Length: %d" % (3 + len(big)), b"abc", big, big),
    ]

    def in_two(peer: Peer, index: int) -> None:
        for framing, first, rest, _ in heads:
            if peer.request() is None:
                return
            peer.send(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n\r\n" + first)
            more.wait(5)
            more.clear()
            peer.send(rest)
        peer.drain()

    with Server(in_two) as server, engine() as client:
        for *_, expected_rest in heads:
            with client.stream("GET", server.url) as response:
                chunks = response.iter_raw()
                assert next(chunks) == b"abc"  # before the rest was sent
                more.set()
                assert b"".join(chunks) == expected_rest
        assert server.connections == 1


def test_a_small_sized_body_is_read_at_once_and_its_connection_reused() -> None:
    with Server() as server, engine() as client:
        with client.stream("GET", server.url) as response:
            # Read by the engine already: nothing left on the wire.
            assert response.is_stream_consumed and response.content == CANCEL_BODY
        assert client.get(server.url).content == CANCEL_BODY
        assert server.connections == 1


def test_an_unread_streamed_body_closes_its_connection_and_a_read_one_returns_it() -> None:
    big = b"x" * (64 * 1024 + 1)

    def large(peer: Peer, index: int) -> None:
        while peer.request() is not None:
            peer.send(reply(big))

    with Server(large) as server, engine() as client:
        with client.stream("GET", server.url):
            pass
        until(lambda: server.open == 0)
        with client.stream("GET", server.url) as response:
            response.read()
        assert client.get(server.url).content == big
        assert server.connections == 2


def test_the_library_stops_an_endless_body_and_closes_the_connection() -> None:
    def endless(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % 65536 + b"z" * 65536 + b"\r\n"
        while not server.stop.is_set():
            peer.send(chunk)

    with Server(endless) as server:
        error = call(server.url)
        assert isinstance(error, sib.ImageBuilderError) and "larger than" in str(error)
        until(lambda: server.open == 0)


def test_a_gzip_bomb_is_bounded() -> None:
    """urllib3 is told not to decode; the library inflates at most its bound."""
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), 9)  # ~64 KiB on the wire

    def bombing(peer: Peer, index: int) -> None:
        request = peer.request()
        server.record(request or b"")
        peer.send(reply(bomb, b"Content-Encoding: gzip", b"Content-Type: application/json"))
        peer.drain()

    with Server(bombing) as server:
        error = call(server.url)
        assert isinstance(error, sib.ImageBuilderError) and "larger than" in str(error)
        assert _header(server.requests[0], b"Accept-Encoding") == b"identity"


# --- secrets, logs, closing ---

ECHOES = {
    "status-line": lambda s: b"HTTP/1.1 500 " + s + b"\r\nContent-Length: 0\r\n\r\n",
    "headers": lambda s: reply(b"{}", b"X-Echo: " + s, b"x-amzn-ErrorType: " + s, status=b"500 E"),
    "body": lambda s: reply(
        b'{"__type": "ClientException", "message": "' + s + b'"}', status=b"400 B"
    ),
    "bad-status-line": lambda s: b"HTTP/1.1 " + s + b"\r\n\r\n",
    "bad-header-line": lambda s: b"HTTP/1.1 200 OK\r\n" + s + b"\r\n" + b"X: y\r\n" * 200 + b"\r\n",
    "broken-body": lambda s: b"HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n" + s,
}


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
def test_an_echoing_server_shows_no_secret_anywhere(
    echo: Callable[[bytes], bytes], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("sigv4_imagebuilder", "httpx", "httpcore", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)

    def echoing(peer: Peer, index: int) -> None:
        request = peer.request() or b""
        server.record(request)
        token = _header(request, b"X-Amz-Security-Token")
        signature = _header(request, b"Authorization").rsplit(b"Signature=", 1)[-1]
        peer.send(echo(token + b" " + signature))
        peer.drain()

    with Server(echoing) as server:
        error = call(server.url, timeout=0.5)
    assert isinstance(error, sib.ImageBuilderError)
    signature = _header(server.requests[0], b"Authorization").rsplit(b"Signature=", 1)[-1]
    assert SESSION_TOKEN.encode() in server.requests[0]  # it was sent, and echoed
    assert_no_secrets(error, caplog=caplog, extra=[signature.decode()])


def test_a_call_logs_like_httpx_and_shows_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with Server() as server:
        assert call(server.url).image_build_version_arn == ARN
    signature = _header(server.requests[0], b"Authorization").rsplit(b"Signature=", 1)[-1]
    messages = [r.getMessage() for r in caplog.records]
    assert any("HTTP Request: PUT" in m for m in messages)  # httpx's INFO line, from send()
    assert_no_secrets(caplog=caplog, extra=[signature.decode()])


def test_close_closes_the_connections_and_refuses_later_calls() -> None:
    with Server() as server:
        client = library(server.url)
        client.cancel_image_creation(ARN)
        assert server.open == 1
        client.close()
        until(lambda: server.open == 0)
        with pytest.raises(sib.ImageBuilderError, match="closed"):
            client.cancel_image_creation(ARN)
        assert server.connections == 1


def test_a_client_closed_by_another_thread_mid_call_finishes_cleanly() -> None:
    """urllib3's ``clear()`` closes idle connections only: a call in flight gets
    its reply (the old ``_wire`` cut it with a ``ReadError``), its connection is
    closed rather than kept, and later calls fail with the library's error."""
    release = threading.Event()

    def slow(peer: Peer, index: int) -> None:
        while (request := peer.request()) is not None:
            server.record(request)
            release.wait(5)
            peer.send(cancel_reply())

    outcome: list[object] = []
    with Server(slow) as server:
        client = library(server.url)

        def run() -> None:
            try:
                outcome.append(client.cancel_image_creation(ARN))
            except sib.ImageBuilderError as exc:  # pragma: no cover - the failure tested for
                outcome.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        until(lambda: len(server.requests) == 1)
        client.close()
        release.set()
        thread.join(5)
        assert not thread.is_alive()
        (result,) = outcome
        assert isinstance(result, sib.CancelImageCreationResponse)
        until(lambda: server.open == 0)  # not kept after the close
        with pytest.raises(sib.ImageBuilderError, match="closed"):
            client.cancel_image_creation(ARN)
