"""The blocking-socket HTTP/1.1 transport: real sockets on 127.0.0.1 that behave, and that do not.

Each server is a listening socket on 127.0.0.1 with a thread per connection running
``handler(peer, index)``, so each case scripts exactly when bytes go out and when the
connection closes (the sync twin of test_wire.py's asyncio servers).
"""

from __future__ import annotations

import contextlib
import functools
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

import h11
import httpcore
import httpx
import pytest
import respx
from conftest import ARN, CREDS, SECRET, SESSION_TOKEN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder import _transport, _wire
from sigv4_imagebuilder._actions import Send
from sigv4_imagebuilder._http import HttpRequest
from sigv4_imagebuilder._wire import WireTransport

TLS_DIR = Path(__file__).parent / "tls"
CANCEL_BODY = json.dumps(
    {"requestId": "r", "clientToken": "t", "imageBuildVersionArn": ARN}
).encode()


def reply(body: bytes = b"hello", *headers: bytes, status: bytes = b"200 OK") -> bytes:
    head = b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
    return head + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


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
        port = self._listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    def keep_alive(self, peer: Peer, index: int) -> None:
        """Answer every request on the connection with :func:`reply`."""
        while (request := peer.request()) is not None:
            with self._lock:
                self.requests.append(request)
            peer.send(reply())

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


def wire_client(**limits: Any) -> tuple[httpx.Client, WireTransport]:
    transport = WireTransport(limits=httpx.Limits(**limits))
    return httpx.Client(transport=transport, timeout=5.0), transport


def assert_pool_healthy(transport: WireTransport) -> None:
    """Nothing busy, nothing broken kept, every place accounted for."""
    idle = [c for stack in transport._idle._stacks.values() for c in stack]
    assert transport.open_connections == transport.idle_connections == len(idle)
    assert len(transport._conns) == transport.open_connections
    assert all(c.usable() and not c.discarded for c in idle)
    assert not transport._waiters


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- keep-alive and the pool ---


def test_a_kept_alive_connection_carries_the_next_request() -> None:
    client, transport = wire_client()
    with Server() as server, client:
        for _ in range(3):
            response = client.post(server.url + "/x", content=b"{}")
            assert response.status_code == 200 and response.content == b"hello"
            assert response.http_version == "HTTP/1.1" and response.reason_phrase == "OK"
        assert server.connections == 1 and len(server.requests) == 3
        assert transport.idle_connections == 1
        assert_pool_healthy(transport)


def test_connection_close_from_the_server_is_honoured() -> None:
    def close_after_one(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(reply(b"bye", b"Connection: close"))
        peer.drain()

    client, transport = wire_client()
    with Server(close_after_one) as server, client:
        for _ in range(2):
            assert client.get(server.url).content == b"bye"
        assert server.connections == 2
        assert transport.open_connections == transport.idle_connections == 0
        until(lambda: server.open == 0)  # and the client closed its side


def test_an_idle_connection_the_server_closed_is_seen_before_reuse() -> None:
    def one_then_close(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(reply())
        # no Connection: close, the server just hangs up afterwards

    client, transport = wire_client()
    with Server(one_then_close) as server, client:
        client.get(server.url)
        (conn,) = transport._idle._stacks[("http", "127.0.0.1", int(server.url[17:]))]
        until(lambda: server.open == 0)
        until(lambda: not conn.usable())  # the end of stream is seen without a read
        assert client.get(server.url).content == b"hello"
        assert server.connections == 2 and conn.sock is not None and conn.sock.fileno() == -1
        assert transport.open_connections == transport.idle_connections == 1


def test_an_idle_connection_that_received_bytes_is_not_reused() -> None:
    def chatty(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(reply() + b"HTTP/1.1 200 OK\r\n")  # a stray extra reply
        if index == 0:
            peer.drain()
        else:
            while peer.request() is not None:
                peer.send(reply())

    client, _ = wire_client()
    with Server(chatty) as server, client:
        client.get(server.url)
        time.sleep(0.1)
        assert client.get(server.url).status_code == 200
        assert server.connections == 2


def test_a_reused_connection_closed_under_the_request_is_an_error_not_a_resend() -> None:
    # The server reads the second request on a kept-alive connection and
    # hangs up without a byte: it may have acted on it, so the transport
    # must not send it again on its own (only the client's max_attempts may).
    def drop_second(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(reply())
        peer.request()  # then close without answering

    client, transport = wire_client()
    with Server(drop_second) as server, client:
        client.get(server.url)
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            client.post(server.url, content=b"again")
        assert server.connections == 1
        assert_pool_healthy(transport)


def test_a_fresh_connection_closed_without_a_reply_is_an_error() -> None:
    def hang_up(peer: Peer, index: int) -> None:
        peer.request()

    client, transport = wire_client()
    with Server(hang_up) as server, client:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            client.get(server.url)
        assert server.connections == 1  # a new connection is never retried
        assert transport.open_connections == 0


def test_idle_connections_expire() -> None:
    client, transport = wire_client(keepalive_expiry=0.1)
    with Server() as server, client:
        client.get(server.url)
        time.sleep(0.2)
        client.get(server.url)
        assert server.connections == 2
        assert_pool_healthy(transport)
        until(lambda: server.open == 1)  # the expired one was closed


def test_max_keepalive_and_max_connections() -> None:
    release = threading.Event()
    lock = threading.Lock()
    held = peak = 0

    def hold(peer: Peer, index: int) -> None:
        nonlocal held, peak
        while peer.request() is not None:
            with lock:
                held += 1
                peak = max(peak, held)
            release.wait()
            with lock:
                held -= 1
            peer.send(reply())

    client, transport = wire_client(max_connections=3, max_keepalive_connections=1)
    results: list[int] = []
    with Server(hold) as server, client:
        threads = [
            threading.Thread(target=lambda: results.append(client.get(server.url).status_code))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        until(lambda: peak == 3)
        until(lambda: len(transport._waiters) == 5)
        time.sleep(0.05)  # no fourth connection comes
        assert peak == 3 and transport.open_connections == 3
        release.set()
        for thread in threads:
            thread.join(10)
        assert results == [200] * 8
        assert server.connections == 3 and peak == 3
        assert transport.idle_connections == 1
        assert_pool_healthy(transport)


def test_a_full_pool_gives_way_to_another_origin() -> None:
    client, transport = wire_client(max_connections=1)
    with Server() as first, Server() as second, client:
        client.get(first.url)
        client.get(second.url)  # the idle connection to `first` is closed for it
        assert transport.open_connections == 1
        until(lambda: first.open == 0)
        assert second.open == 1


def test_a_released_connection_goes_to_a_waiter_of_another_origin() -> None:
    release = threading.Event()

    def slow(peer: Peer, index: int) -> None:
        peer.request()
        release.wait()
        peer.send(reply())
        peer.drain()

    client, transport = wire_client(max_connections=1)
    statuses: list[int] = []
    with Server(slow) as first, Server() as second, client:
        busy = threading.Thread(target=lambda: statuses.append(client.get(first.url).status_code))
        busy.start()
        until(lambda: first.connections == 1)
        waiting = threading.Thread(
            target=lambda: statuses.append(client.get(second.url).status_code)
        )
        waiting.start()
        until(lambda: len(transport._waiters) == 1)
        release.set()
        busy.join(5)
        waiting.join(5)
        assert statuses == [200, 200]
        assert transport.open_connections == 1 and second.connections == 1
        assert_pool_healthy(transport)


def test_a_pool_wait_past_the_pool_timeout_is_a_pool_timeout() -> None:
    def never(peer: Peer, index: int) -> None:
        peer.drain()

    transport = WireTransport(limits=httpx.Limits(max_connections=1))
    client = httpx.Client(transport=transport, timeout=httpx.Timeout(5.0, read=1.0, pool=0.1))
    errors: list[BaseException] = []

    def stuck_call() -> None:
        try:
            client.get(server.url)
        except httpx.HTTPError as exc:
            errors.append(exc)

    with Server(never) as server, client:
        stuck = threading.Thread(target=stuck_call)
        stuck.start()
        until(lambda: transport.open_connections == 1)
        with pytest.raises(httpx.PoolTimeout):
            client.get(server.url)
        assert not transport._waiters
        stuck.join(5)
        assert [type(e) for e in errors] == [httpx.ReadTimeout]
        assert transport.open_connections == 0


# --- many threads ---


def test_fifty_threads_share_one_client_and_never_one_connection() -> None:
    in_use: set[int] = set()
    lock = threading.Lock()
    overlaps: list[int] = []

    def echo(peer: Peer, index: int) -> None:
        # Every reply names its request: a connection used by two threads at
        # once would mix replies up (or break h11's state machine).
        while (request := peer.request()) is not None:
            with lock:
                if index in in_use:
                    overlaps.append(index)
                in_use.add(index)
            token = request.split(b"X-Call: ")[1].split(b"\r\n")[0]
            time.sleep(random.random() * 0.001)
            with lock:
                in_use.discard(index)
            peer.send(reply(token))

    client, transport = wire_client(max_connections=20, max_keepalive_connections=10)
    failures: list[str] = []

    def worker(n: int) -> None:
        for i in range(20):
            token = f"{n}-{i}"
            try:
                if i % 7 == 3:  # now and then, a reply left unread: its connection is closed
                    with client.stream("GET", server.url, headers={"X-Call": token}):
                        pass
                    continue
                body = client.get(server.url, headers={"X-Call": token}).content
            except httpx.HTTPError as exc:  # pragma: no cover - the failure being tested for
                failures.append(repr(exc))
                continue
            if body != token.encode():  # pragma: no cover - the failure being tested for
                failures.append(f"{token} got {body!r}")

    with Server(echo) as server, client:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == [] and overlaps == []
        assert_pool_healthy(transport)
        assert transport.idle_connections <= 10
        until(lambda: server.open == transport.open_connections)  # nothing leaked


# --- timeouts and failures are httpx's exceptions ---


def test_connection_refused_is_a_connect_error() -> None:
    client, transport = wire_client()
    with client, pytest.raises(httpx.ConnectError) as info:
        client.get(f"http://127.0.0.1:{free_port()}/")
    assert isinstance(info.value.__cause__, OSError)
    assert transport.open_connections == 0


def test_an_unresolvable_host_is_a_connect_error() -> None:
    transport = WireTransport()
    with pytest.raises(httpx.ConnectError):
        # A label longer than 63 bytes: refused before any lookup leaves the machine.
        transport.handle_request(httpx.Request("GET", f"http://{'a' * 64}.invalid/"))
    assert transport.open_connections == 0


def test_a_stalled_tls_handshake_is_a_connect_timeout() -> None:
    def silent(peer: Peer, index: int) -> None:
        peer.drain()

    transport = WireTransport(ssl_context=ssl.create_default_context())
    client = httpx.Client(transport=transport, timeout=httpx.Timeout(5.0, connect=0.2))
    with Server(silent) as server, client:
        with pytest.raises(httpx.ConnectTimeout):
            client.get(server.url.replace("http:", "https:"))
        assert transport.open_connections == 0


def _silent(peer: Peer, index: int) -> None:
    peer.drain()


def _stalled_body(peer: Peer, index: int) -> None:
    peer.request()
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    peer.drain()


@pytest.mark.parametrize("handler", [_silent, _stalled_body])
def test_a_silent_server_or_a_stalled_body_is_a_read_timeout(handler: Handler) -> None:
    transport = WireTransport()
    client = httpx.Client(transport=transport, timeout=httpx.Timeout(5.0, read=0.2))
    with Server(handler) as server, client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(server.url)
        assert transport.open_connections == 0


def test_a_server_that_never_reads_is_a_write_timeout() -> None:
    def deaf(peer: Peer, index: int) -> None:
        server.stop.wait()

    transport = WireTransport()
    client = httpx.Client(transport=transport, timeout=httpx.Timeout(5.0, write=0.2))
    with Server(deaf) as server, client:
        with pytest.raises(httpx.WriteTimeout):
            client.post(server.url, content=b"x" * (32 * 1024 * 1024))
        assert transport.open_connections == 0


def test_a_dribbled_head_is_cut_at_the_deadline() -> None:
    # One byte every 50 ms: each read is well within its timeout, and the
    # head alone would take over 10 s. The deadline ends it.
    def dribble(peer: Peer, index: int) -> None:
        peer.request()
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
            if server.stop.wait(0.05):
                return
            peer.send(bytes([byte]))

    transport = WireTransport()
    with Server(dribble) as server:
        request = httpx.Request("GET", server.url, extensions={"timeout": {"read": 5.0}})
        request.extensions[_transport.DEADLINE_EXTENSION] = time.monotonic() + 0.5
        start = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            transport.handle_request(request)
        assert 0.45 < time.monotonic() - start < 3
        assert transport.open_connections == 0
        # A deadline already past: nothing is even taken from the pool.
        request.extensions[_transport.DEADLINE_EXTENSION] = time.monotonic() - 1
        with pytest.raises(httpx.PoolTimeout, match="deadline"):
            transport.handle_request(request)
        assert server.connections == 1
    transport.close()


@pytest.mark.parametrize(
    ("wire", "match"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", "incomplete|complete message"),
        (b"garbage, not HTTP\r\n\r\n", None),
        (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 300_000, None),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc", None),
    ],
    ids=["cut-short", "malformed", "oversized-head", "chunked-cut-short"],
)
def test_a_broken_reply_is_a_remote_protocol_error(wire: bytes, match: str | None) -> None:
    def broken(peer: Peer, index: int) -> None:
        peer.request()
        with contextlib.suppress(OSError):
            peer.send(wire)

    client, transport = wire_client()
    with Server(broken) as server, client:
        with pytest.raises(httpx.RemoteProtocolError, match=match):
            client.get(server.url)
        assert transport.open_connections == 0


def _reset(sock: socket.socket) -> None:
    # Close with an RST instead of a FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def test_a_reset_connection_is_a_read_error() -> None:
    def reset(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        time.sleep(0.05)
        _reset(peer.sock)

    client, transport = wire_client()
    with Server(reset) as server, client:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            client.get(server.url)
        assert transport.open_connections == 0


def test_hostile_replies_only_ever_raise_httpx_errors() -> None:
    # Random cuts, resets and garbage at random points: whatever happens, the
    # caller sees a reply or an httpx.TransportError, never OSError or h11's.
    rng = random.Random(7)
    good = reply(b"fine", b"Content-Type: text/plain")
    plans = [(rng.randrange(len(good) + 1), rng.choice("cfrg")) for _ in range(60)]
    plans[::10] = [(len(good), "f")] * 6  # and some whole replies, kept alive

    def hostile(peer: Peer, index: int) -> None:
        while (request := peer.request()) is not None:
            cut, how = plans[int(request.split(b"X-Plan: ")[1].split(b"\r\n")[0])]
            if how == "g":
                peer.send(good[:cut] + bytes(rng.randrange(256) for _ in range(20)) + b"\r\n\r\n")
            else:
                peer.send(good[:cut])
            if how == "r":
                _reset(peer.sock)
                return
            if how in "cg":
                return
            # "f": a full reply (when the cut is the whole), else a stall then a close
            if cut < len(good):
                return

    client, transport = wire_client()
    outcomes: list[str] = []
    with Server(hostile) as server, client:
        for n in range(len(plans)):
            try:
                response = client.get(server.url, headers={"X-Plan": str(n)})
                outcomes.append(f"ok {response.status_code}")
            except httpx.TransportError as exc:
                outcomes.append(type(exc).__name__)
        assert_pool_healthy(transport)
    assert len(outcomes) == len(plans)
    assert any(o.startswith("ok") for o in outcomes)
    assert {"RemoteProtocolError"} <= set(outcomes)


def test_informational_replies_are_skipped() -> None:
    def continue_first(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(b"HTTP/1.1 100 Continue\r\n\r\n" + reply())
        peer.drain()

    client, _ = wire_client()
    with Server(continue_first) as server, client:
        assert client.get(server.url).content == b"hello"


def test_an_unsupported_scheme_and_a_bad_header_are_local_errors() -> None:
    transport = WireTransport()
    with pytest.raises(httpx.UnsupportedProtocol):
        transport.handle_request(httpx.Request("GET", "ftp://127.0.0.1/"))
    with Server() as server:
        request = httpx.Request("GET", server.url, headers={"X-Bad": "a\nb" + SECRET})
        with pytest.raises(httpx.LocalProtocolError) as info:
            transport.handle_request(request)
        assert SECRET not in str(info.value) and info.value.__cause__ is None
        assert transport.open_connections == 0
    transport.close()


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
def test_an_interrupt_mid_read_returns_no_half_read_connection(where: str) -> None:
    def half(peer: Peer, index: int) -> None:
        while peer.request() is not None:
            if index == 0 and where == "body":
                peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            if index == 0:
                peer.drain()  # the rest never comes
                return
            peer.send(reply())

    client, transport = wire_client()
    with Server(half) as server, client:
        with pytest.raises(KeyboardInterrupt), interrupt_after(0.2):
            if where == "head":
                client.get(server.url)
            else:
                with client.stream("GET", server.url) as response:
                    for _ in response.iter_raw():
                        pass
        assert transport.open_connections == transport.idle_connections == 0
        until(lambda: server.open == 0)
        assert client.get(server.url).content == b"hello"  # a fresh connection
        assert server.connections == 2
        assert_pool_healthy(transport)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
@pytest.mark.parametrize("first_ends", ["read", "unread"])
def test_an_interrupt_while_waiting_for_the_pool_gives_back_what_it_was_handed(
    first_ends: str,
) -> None:
    # The interrupt's handler itself ends the first exchange, which hands its
    # connection (read) or its place (unread) to the waiting request just
    # before the KeyboardInterrupt reaches it: nothing may be lost.
    client, transport = wire_client(max_connections=1)
    with Server() as server, client:
        first = client.send(client.build_request("GET", server.url), stream=True)

        def handler(signum: int, frame: object) -> None:
            (waiter,) = transport._waiters
            if first_ends == "read":
                first.read()
            else:
                first.close()
            assert waiter.result is not _wire._PENDING  # handed, not yet taken
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        try:
            with pytest.raises(KeyboardInterrupt):
                client.get(server.url)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        assert_pool_healthy(transport)
        assert transport.idle_connections == (1 if first_ends == "read" else 0)
        assert client.get(server.url).content == b"hello"


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
def test_an_interrupt_while_waiting_for_the_pool_leaves_the_queue() -> None:
    client, transport = wire_client(max_connections=1)
    with Server() as server, client:
        first = client.send(client.build_request("GET", server.url), stream=True)
        with pytest.raises(KeyboardInterrupt), interrupt_after(0.2):
            client.get(server.url)
        assert not transport._waiters and transport.open_connections == 1
        first.read()
        assert_pool_healthy(transport)
        assert next(iter(first.stream), None) is None  # read to the end: nothing more


# --- TLS ---


def _server_tls() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(TLS_DIR / "selfsigned.pem"), str(TLS_DIR / "selfsigned.key"))
    return context


def test_tls_with_a_trusted_certificate_and_its_host_name() -> None:
    trusting = ssl.create_default_context(cafile=str(TLS_DIR / "selfsigned.pem"))
    transport = WireTransport(ssl_context=trusting)
    client = httpx.Client(transport=transport, timeout=5.0)
    with Server(tls=_server_tls()) as server, client:
        for _ in range(2):
            assert client.get(server.url).content == b"hello"
        assert server.connections == 1
        assert_pool_healthy(transport)  # the kept-alive TLS connection looks idle
        port = server.url.rsplit(":", 1)[1]
        if "127.0.0.1" not in {a[4][0] for a in socket.getaddrinfo("localhost", None)}:
            pytest.skip("localhost is not 127.0.0.1 here")
        # The certificate names 127.0.0.1 only: the same server as "localhost" is refused.
        with pytest.raises(httpx.ConnectError) as info:
            client.get(f"https://localhost:{port}/")
        assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)


def test_the_default_context_verifies_and_refuses_a_self_signed_certificate() -> None:
    transport = WireTransport()
    client = httpx.Client(transport=transport, timeout=5.0)
    with Server(tls=_server_tls()) as server, client:
        with pytest.raises(httpx.ConnectError) as info:
            client.get(server.url)
        assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
        assert transport.open_connections == 0


def test_our_client_reads_the_ca_bundle_at_the_first_handshake_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not _transport.LAZY_CA_SUPPORTED:
        pytest.skip("httpx before 0.28 builds its own SSL context; our clients keep it")
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS_DIR / "selfsigned.pem"))
    with (
        Server(tls=_server_tls()) as server,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.url, max_attempts=1
        ) as client,
    ):
        wire = client._http._transport
        assert isinstance(wire, WireTransport)
        context = wire._ssl_context
        assert context is not None and context.cert_store_stats()["x509"] == 0
        with pytest.raises(sib.ImageBuilderError):  # "hello" is not a valid reply
            client.cancel_image_creation(ARN)
        assert server.connections == 1 and len(server.requests) == 1  # trusted, and sent
        assert context.cert_store_stats()["x509"] == 1


# --- response bodies ---


def test_a_body_is_yielded_as_it_arrives_chunked_or_sized() -> None:
    more = threading.Event()
    heads = [
        (b"Transfer-Encoding: chunked", b"3\r\nabc\r\n", b"2\r\nde\r\n0\r\n\r\n"),
        (b"Content-Length: 5", b"abc", b"de"),
    ]

    def in_two(peer: Peer, index: int) -> None:
        for framing, first, rest in heads:
            if peer.request() is None:
                return
            peer.send(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n\r\n" + first)
            more.wait(5)
            more.clear()
            peer.send(rest)
        peer.drain()

    client, transport = wire_client()
    with Server(in_two) as server, client:
        for _ in heads:
            with client.stream("GET", server.url) as response:
                chunks = response.iter_raw()
                assert next(chunks) == b"abc"  # before the rest was sent
                more.set()
                assert b"".join(chunks) == b"de"
        assert server.connections == 1
        assert_pool_healthy(transport)


def test_an_unread_body_closes_its_connection_and_a_read_one_returns_it() -> None:
    client, transport = wire_client()
    with Server() as server, client:
        with client.stream("GET", server.url):
            pass
        assert transport.open_connections == 0
        with client.stream("GET", server.url) as response:
            response.read()
        assert transport.idle_connections == 1
        assert_pool_healthy(transport)
        until(lambda: server.open == 1)


def test_the_library_stops_an_endless_body_and_closes_the_connection() -> None:
    def endless(peer: Peer, index: int) -> None:
        peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % 65536 + b"z" * 65536 + b"\r\n"
        while not server.stop.is_set():
            peer.send(chunk)

    with (
        Server(endless) as server,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.url, max_attempts=1
        ) as client,
    ):
        with pytest.raises(sib.ImageBuilderError, match="larger than"):
            client.cancel_image_creation(ARN)
        wire = client._http._transport
        assert isinstance(wire, WireTransport) and wire.open_connections == 0
        until(lambda: server.open == 0)


# --- the bytes on the wire ---


def _library_request(url: str, method: str = "POST", body: bytes = b'{"a": 1}') -> httpx.Request:
    send = Send(
        HttpRequest(
            method=method,
            url=url + "/path/to?q=1&r=%2F",
            headers=(("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "T")),
            body=body,
        )
    )
    return _transport.build_request(send, httpx.Client(), {"read": 5.0})


def test_the_request_bytes_are_httpcores() -> None:
    with Server() as server:
        stock = httpx.HTTPTransport()
        ours = WireTransport()
        requests = [
            lambda: _library_request(server.url),
            lambda: _library_request(server.url, "GET", b""),
            lambda: httpx.Request(
                "PUT", server.url + "/x", headers={"X-MiXed-Case": "v"}, content=b"body"
            ),
            lambda: httpx.Request("DELETE", server.url + "/caf%C3%A9?x=%20"),
        ]
        for make in requests:
            for transport in (stock, ours):
                response = transport.handle_request(make())
                response.read()
                response.close()
        stock.close()
        ours.close()
    pairs = list(zip(server.requests[::2], server.requests[1::2], strict=True))
    assert len(pairs) == 4
    for theirs, mine in pairs:
        assert theirs == mine
    assert pairs[0][0].startswith(b"POST /path/to?q=1&r=%2F HTTP/1.1\r\nHost: 127.0.0.1:")


def test_a_streamed_request_body_is_sent_as_httpx_frames_it() -> None:
    def upload() -> Iterator[bytes]:
        yield b"abc"
        yield b"de"

    def chunked(peer: Peer, index: int) -> None:
        data = b""
        while not data.endswith(b"0\r\n\r\n"):
            data += peer.sock.recv(65536)
        server.requests.append(data)
        peer.send(reply())
        peer.drain()

    client, _ = wire_client()
    with Server(chunked) as server, client:
        assert client.post(server.url, content=upload()).content == b"hello"
    (request,) = server.requests
    assert b"Transfer-Encoding: chunked\r\n" in request
    assert request.endswith(b"\r\n\r\n5\r\nabcde\r\n0\r\n\r\n")


def test_the_signature_verifying_stand_in_accepts_our_requests() -> None:
    from sigv4_imagebuilder.testing import LocalImageBuilder

    with LocalImageBuilder(credentials=CREDS, region="us-east-1") as local:
        local.add_image(ARN)
        with sib.ImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=local.endpoint_url
        ) as client:
            assert isinstance(client._http._transport, WireTransport)
            result = client.cancel_image_creation(ARN)
            assert client.get_image(ARN).image.state.status == "CANCELLED"
        assert result.image_build_version_arn == ARN


# --- who sends: our transport, httpx's proxies, or a mock ---


def test_an_environment_proxy_still_carries_our_clients_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)

    def proxy(peer: Peer, index: int) -> None:
        while (request := peer.request()) is not None:
            server.requests.append(request)
            peer.send(reply(CANCEL_BODY, b"Content-Type: application/json"))

    port = free_port()  # where the endpoint would be: nothing listens
    with Server(proxy) as server:
        monkeypatch.setenv("HTTP_PROXY", server.url)
        with sib.ImageBuilderClient(
            region="us-east-1",
            credentials=CREDS,
            endpoint_url=f"http://127.0.0.1:{port}",
            max_attempts=1,
        ) as client:
            assert isinstance(client._http._transport, WireTransport)
            result = client.cancel_image_creation(ARN)
    assert result.image_build_version_arn == ARN
    (request,) = server.requests
    # the absolute form a proxy is sent: the proxy, not the endpoint, got it
    assert request.split(b" ")[1].startswith(f"http://127.0.0.1:{port}/".encode())


def _library_client(url: str) -> sib.ImageBuilderClient:
    return sib.ImageBuilderClient(
        region="us-east-1", credentials=CREDS, endpoint_url=url, max_attempts=1
    )


@pytest.mark.parametrize("using", ["httpcore", "httpx"])
def test_respx_still_mocks_our_clients(using: str) -> None:
    with Server() as server:
        with respx.mock(using=using) as mock:
            route = mock.put(server.url + "/CancelImageCreation").respond(
                200, content=CANCEL_BODY, headers={"x-amzn-RequestId": "r"}
            )
            with _library_client(server.url) as client:
                assert isinstance(client._http._transport, WireTransport)
                result = client.cancel_image_creation(ARN)
        assert result.image_build_version_arn == ARN and route.call_count == 1
        assert server.connections == 0  # nothing reached the socket
        # and once the mock is gone, the real server answers through our transport
        with (
            _library_client(server.url) as client,
            pytest.raises(sib.ImageBuilderError),  # "hello" is not a valid reply
        ):
            client.cancel_image_creation(ARN)
        assert server.connections == 1


def test_a_patched_httpx_transport_still_sees_our_clients_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[httpx.Request] = []

    def fake(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=CANCEL_BODY, headers={"x-amzn-RequestId": "r"})

    with Server() as server:
        monkeypatch.setattr(httpx.HTTPTransport, "handle_request", fake)
        with _library_client(server.url) as client:
            client.cancel_image_creation(ARN)
        assert len(seen) == 1 and server.connections == 0


def test_sync_pristine_sees_patches_even_if_imported_under_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _wire.sync_pristine()
    original = httpcore.ConnectionPool.handle_request

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **kwargs)  # pragma: no cover - never called

    monkeypatch.setattr(httpcore.ConnectionPool, "handle_request", wrapper)
    assert not _wire.sync_pristine()
    monkeypatch.undo()
    # As if this module had been imported while respx was active: names decide.
    monkeypatch.setattr(_wire, "_originals", {})
    assert _wire.sync_pristine()


def test_a_fallback_is_built_when_none_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_wire, "sync_pristine", lambda: False)
    transport = WireTransport()
    with Server() as server:
        response = transport.handle_request(httpx.Request("GET", server.url))
        response.read()
        assert isinstance(transport._fallback, httpx.HTTPTransport)
        assert server.connections == 1
        transport.close()


def test_install_leaves_a_custom_transport_alone() -> None:
    custom = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert _wire.install(custom, httpx.Limits()) is None
    proxied = httpx.Client(transport=httpx.HTTPTransport(proxy=httpx.Proxy("http://127.0.0.1:9")))
    assert _wire.install(proxied, httpx.Limits()) is None  # its pool is a proxy's
    plain = httpx.Client()
    assert isinstance(_wire.install(plain, httpx.Limits()), WireTransport)
    for http in (custom, proxied, plain):
        http.close()


def test_users_clients_keep_httpx_transport() -> None:
    http = httpx.Client()
    with sib.ImageBuilderClient(region="us-east-1", credentials=CREDS, http_client=http):
        assert type(http._transport) is httpx.HTTPTransport
    http.close()


# --- logs, closing ---


def test_nothing_is_logged_and_no_secret_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        Server() as server,
        _library_client(server.url) as client,
        pytest.raises(sib.ImageBuilderError),
    ):
        client.cancel_image_creation(ARN)
    (request,) = server.requests
    signature = request.split(b"Signature=")[1].split(b"\r\n")[0].decode()
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("sigv4", "h")))
    assert "HTTP Request: PUT" in text  # httpx's INFO line, as Client.send logs it
    for secret in (SECRET, SESSION_TOKEN, signature):
        assert secret not in text


def test_close_closes_idle_and_busy_connections_and_refuses_later_requests() -> None:
    release = threading.Event()

    def hold_busy(peer: Peer, index: int) -> None:
        while (request := peer.request()) is not None:
            server.requests.append(request)
            if b" /busy " in request:
                release.wait(5)
            with contextlib.suppress(OSError):
                peer.send(reply())

    transport = WireTransport()
    client = httpx.Client(transport=transport, timeout=5.0)
    errors: list[BaseException] = []

    def busy_call() -> None:
        try:
            client.get(server.url + "/busy")
        except (httpx.HTTPError, RuntimeError) as exc:
            errors.append(exc)

    with Server(hold_busy) as server:
        with client.stream("GET", server.url) as first, client.stream("GET", server.url) as two:
            first.read()
            two.read()  # two idle connections
        busy = threading.Thread(target=busy_call)
        busy.start()
        until(lambda: any(b" /busy " in r for r in server.requests))
        assert transport.idle_connections == 1 and transport.open_connections == 2
        client.close()
        busy.join(5)
        assert [type(e) for e in errors] == [httpx.ReadError]
        assert "closed by this client" in str(errors[0])
        release.set()
        until(lambda: server.open == 0)  # the server saw every connection closed
        assert transport.open_connections == 0 and not transport._conns
        with pytest.raises(RuntimeError, match="transport has been closed"):
            transport.handle_request(httpx.Request("GET", server.url))


def test_close_wakes_the_requests_waiting_for_the_pool() -> None:
    def never(peer: Peer, index: int) -> None:
        server.requests.append(peer.request() or b"")
        peer.drain()

    transport = WireTransport(limits=httpx.Limits(max_connections=1))
    client = httpx.Client(transport=transport, timeout=5.0)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.get(server.url)
        except (httpx.HTTPError, RuntimeError) as exc:
            errors.append(exc)

    with Server(never) as server:
        threads = [threading.Thread(target=call) for _ in range(2)]
        for thread in threads:
            thread.start()
        until(lambda: len(server.requests) == 1 and len(transport._waiters) == 1)
        client.close()
        for thread in threads:
            thread.join(5)
    assert sorted(type(e).__name__ for e in errors) == ["ReadError", "RuntimeError"]
    assert any("transport has been closed" in str(e) for e in errors)


def test_a_library_client_closed_by_another_thread_mid_call() -> None:
    def silent(peer: Peer, index: int) -> None:
        peer.request()
        peer.drain()

    with Server(silent) as server:
        client = _library_client(server.url)
        failure: list[BaseException] = []

        def call() -> None:
            try:
                client.cancel_image_creation(ARN)
            except sib.ImageBuilderError as exc:
                failure.append(exc)

        thread = threading.Thread(target=call)
        thread.start()
        until(lambda: server.connections == 1)
        time.sleep(0.05)
        client.close()
        thread.join(5)
        assert not thread.is_alive() and len(failure) == 1
        assert isinstance(failure[0], sib.TransportError)
        with pytest.raises(sib.ImageBuilderError, match="closed"):
            client.cancel_image_creation(ARN)
        until(lambda: server.open == 0)


def test_a_connection_opened_while_the_pool_closes_is_closed() -> None:
    transport = WireTransport()
    entered = threading.Event()
    proceed = threading.Event()
    real = socket.create_connection

    def slow_connect(*args: Any, **kwargs: Any) -> socket.socket:
        entered.set()
        proceed.wait(5)
        return real(*args, **kwargs)

    errors: list[BaseException] = []

    def call() -> None:
        try:
            transport.handle_request(httpx.Request("GET", server.url))
        except RuntimeError as exc:
            errors.append(exc)

    with Server() as server, pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "create_connection", slow_connect)
        thread = threading.Thread(target=call)
        thread.start()
        entered.wait(5)
        transport.close()
        proceed.set()
        thread.join(5)
        assert len(errors) == 1 and "transport has been closed" in str(errors[0])
        until(lambda: server.open == 0)


def test_an_h11_event_the_driver_does_not_expect_is_a_protocol_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # h11 never hands a client a ConnectionClosed before the reply's head
    # without data, but the driver does not rely on it.
    client, transport = wire_client()
    with Server() as server, client:
        original = _wire.Exchange.next_event

        def odd(self: _wire.Exchange) -> Any:
            event = original(self)
            return h11.ConnectionClosed() if type(event) is h11.Response else event

        monkeypatch.setattr(_wire.Exchange, "next_event", odd)
        with pytest.raises(httpx.RemoteProtocolError, match="instead of a reply"):
            client.get(server.url)

        def odd_body(self: _wire.Exchange) -> Any:
            if self._h11.their_state is h11.SEND_BODY:
                return h11.ConnectionClosed()
            return original(self)

        monkeypatch.setattr(_wire.Exchange, "next_event", odd_body)
        with pytest.raises(httpx.RemoteProtocolError, match="in the reply body"):
            client.get(server.url)
        assert transport.open_connections == 0


def test_sync_pristine_without_httpcore_loaded_still_sees_a_patched_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The default client never imports httpcore: nothing can have patched it
    # then, but httpx's own transport may still be (pytest-httpx).
    import sys

    monkeypatch.delitem(sys.modules, "httpcore")
    assert _wire.sync_pristine() and _wire.pristine()

    def patched(self: Any, request: httpx.Request) -> httpx.Response:
        raise AssertionError("never called")  # pragma: no cover

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", patched)
    assert not _wire.sync_pristine()


def _interrupt_once(real: Callable[..., Any]) -> Callable[..., Any]:
    armed = [True]

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        if armed:
            armed.clear()
            raise KeyboardInterrupt  # as a signal's handler would, at this exact point
        return real(*args, **kwargs)

    return interrupted


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (_wire.Exchange, "reusable"),  # handing the read reply's connection back
        (_wire, "response_head"),  # between the reply head and the stream owning it
        (_transport, "_log_like_httpx"),  # after the transport returned, before send() owns it
    ],
)
def test_an_interrupt_around_a_reply_leaves_the_one_place_usable(
    module: Any, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With one connection allowed, a place lost to an interrupt would make
    # every later call a PoolTimeout.
    def answer(peer: Peer, index: int) -> None:
        while peer.request() is not None:
            peer.send(reply(CANCEL_BODY, b"Content-Type: application/json"))

    with Server(answer) as server:
        client = sib.ImageBuilderClient(
            region="us-east-1",
            credentials=CREDS,
            endpoint_url=server.url,
            max_attempts=1,
            timeout=2,
            max_concurrency=1,
        )
        client.cancel_image_creation(ARN)  # a kept-alive connection to hand back
        monkeypatch.setattr(module, name, _interrupt_once(getattr(module, name)))
        with pytest.raises(KeyboardInterrupt):
            client.cancel_image_creation(ARN)
        assert client.cancel_image_creation(ARN).image_build_version_arn == ARN
        wire = client._http._transport
        assert wire.open_connections <= 1  # type: ignore[attr-defined]
        client.close()
