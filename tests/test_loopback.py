"""The loopback server itself: hostile requests get a 4xx and it keeps serving."""

from __future__ import annotations

import socket

import httpx
import pytest

from sigv4_imagebuilder.testing import LoopbackServer, ReceivedRequest, Reply
from sigv4_imagebuilder.testing._loopback import MAX_REQUEST_BODY


def raw_exchange(port: int, head: bytes) -> bytes:
    """Send ``head`` on a fresh connection; return what comes back until close."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("length", "status"),
    [
        (b"abc", 400),
        (b"-1", 400),
        (b"1e3", 400),
        (str(10**30).encode(), 400),
        (str(MAX_REQUEST_BODY + 1).encode(), 413),
    ],
)
def test_a_bad_content_length_gets_a_4xx_and_the_server_keeps_serving(
    length: bytes, status: int, capfd: pytest.CaptureFixture[str]
) -> None:
    received: list[ReceivedRequest] = []

    def handler(request: ReceivedRequest) -> Reply:
        received.append(request)
        return Reply(body=b"fine")

    with LoopbackServer(handler) as server:
        reply = raw_exchange(
            server.port,
            b"PUT /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + length + b"\r\n\r\n",
        )
        assert reply.startswith(b"HTTP/1.1 %d " % status)
        assert received == []  # the handler never saw it
        assert httpx.get(server.endpoint_url + "/after").text == "fine"
    _, err = capfd.readouterr()
    assert "Traceback" not in err


def test_200_simultaneous_connections_are_all_answered() -> None:
    with LoopbackServer(lambda request: Reply(body=b"ok")) as server:
        assert server._server is not None and server._server.request_queue_size >= 200
        sockets = [
            socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(200)
        ]
        try:
            for sock in sockets:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            replies = []
            for sock in sockets:
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
                replies.append(data)
        finally:
            for sock in sockets:
                sock.close()
    assert all(r.startswith(b"HTTP/1.1 200 ") and r.endswith(b"ok") for r in replies)


def test_a_streamed_reply_without_a_length_ends_with_the_connection() -> None:
    reply = Reply(body=b"a", chunks=lambda: iter([b"b", b"c"]))
    with LoopbackServer(lambda request: reply) as server:
        response = httpx.get(server.endpoint_url)
    assert response.content == b"abc" and response.headers["connection"] == "close"


def test_a_client_hanging_up_mid_reply_leaves_no_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    big = Reply(body=b"x" * 8_000_000)
    with LoopbackServer(lambda request: big) as server:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                sock.recv(1024)  # the reply has started; hang up with a reset
        # The server still answers, and said nothing on stderr.
        assert httpx.get(server.endpoint_url + "/", timeout=10).status_code == 200
    assert "Traceback" not in capsys.readouterr().err
