"""The httpx adapter under abuse: real servers on 127.0.0.1 that misbehave on purpose.

Every case asserts the typed outcome and that no secret (secret key, session
token, signature, password) shows in the error, its repr, the DEBUG logs of
ours, httpx and httpcore, or the CLI's output.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gzip
import http
import io
import json
import logging
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ARN, CREDS, NO_SLEEP, SECRET, SESSION_TOKEN
from hostile import assert_no_secrets, capture_everything, client_kwargs, outcome, signatures

import sigv4_imagebuilder as sib
from sigv4_imagebuilder import _transport
from sigv4_imagebuilder._actions import Send
from sigv4_imagebuilder._body import MAX_RESPONSE_BYTES, BoundedBody
from sigv4_imagebuilder._cli import main
from sigv4_imagebuilder._http import HttpRequest
from sigv4_imagebuilder._options import DEFAULT_MAX_CONCURRENCY
from sigv4_imagebuilder._transport import (
    deadline_of,
    map_transport_error,
    phase_timeouts,
)
from sigv4_imagebuilder.testing import LoopbackServer, ReceivedRequest, Reply

modes = pytest.mark.parametrize("mode", ["sync", "async"])

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


class Recorder:
    """Answers every request with one reply; remembers the requests."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.received: list[ReceivedRequest] = []

    def __call__(self, request: ReceivedRequest) -> Reply:
        self.received.append(request)
        return self.reply


@modes
@pytest.mark.parametrize("status", [200, 400, 503])
def test_deeply_nested_json_reply(mode: str, status: int, caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)
    recorder = Recorder(Reply(status=status, body=DEEP_JSON))
    with LoopbackServer(recorder) as server:
        result = outcome(mode, server.endpoint_url)
    if status == 200:
        assert isinstance(result, sib.ResponseParseError)
        assert len(recorder.received) == 1
    else:
        assert type(result) is sib.ServiceError
        assert (result.code, result.status_code) == (str(status), status)
        # a 5xx stays retryable, a 4xx is final
        assert len(recorder.received) == (3 if status == 503 else 1)
    assert_no_secrets(result, caplog=caplog, extra=signatures(recorder.received))


@pytest.mark.parametrize(("status", "code"), [(200, 255), (503, 254)])
def test_cli_deeply_nested_json_exits_with_a_documented_code(
    status: int, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDS.secret_access_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", CREDS.session_token or "")
    recorder = Recorder(Reply(status=status, body=DEEP_JSON))
    out, err = io.StringIO(), io.StringIO()
    with LoopbackServer(recorder) as server:
        exit_code = main(
            [
                "cancel-image-creation",
                "--image-build-version-arn",
                ARN,
                "--region",
                "us-east-1",
                "--endpoint-url",
                server.endpoint_url,
                "--max-attempts",
                "1",
                "--debug",
            ],
            stdout=out,
            stderr=err,
        )
    assert exit_code == code and "Traceback" not in err.getvalue()
    assert_no_secrets(texts=[out.getvalue(), err.getvalue()], extra=signatures(recorder.received))


# --- bounded reads (9.7): measured in a subprocess, whose peak RSS is its own ---

_MIB = 1024 * 1024


@functools.cache
def gzip_bomb() -> tuple[bytes, bytes, bytes]:
    """(head, middle, tail) of a gzip member that inflates to 2 GiB of zeros.

    After a full flush the compressor's output for each further 16 MiB of
    zeros is the same bytes, so the 2 MB member is built in milliseconds from
    one repeated piece. Its CRC is left zero: the bound stops reading long
    before the trailer.
    """
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31, 9, zlib.Z_RLE)
    zeros = bytes(16 * _MIB)
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    middle = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush()[:-8] + struct.pack("<II", 0, 0)
    return head, middle, tail


def bomb_chunks() -> Iterator[bytes]:
    head, middle, tail = gzip_bomb()
    yield head
    for _ in range(127):
        yield middle
    yield tail


def plain_chunks() -> Iterator[bytes]:
    piece = b"x" * _MIB
    for _ in range(512):
        yield piece


_CHILD = """
import asyncio, json, sys
import sigv4_imagebuilder as sib

ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/x/1.0.0/1"


def peak_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024


def describe(exc):
    return [type(exc).__name__, getattr(exc, "status_code", None), str(exc)]


async def call_async(kwargs):
    async with sib.AsyncImageBuilderClient(**kwargs) as client:
        await client.cancel_image_creation(ARN)


mode, urls = sys.argv[1], sys.argv[2:]
before = peak_mib()
results = []
for url in urls:
    kwargs = dict(region="us-east-1", credentials=sib.Credentials("AKID", "secret"),
                  endpoint_url=url, max_attempts=1)
    try:
        if mode == "sync":
            with sib.ImageBuilderClient(**kwargs) as client:
                client.cancel_image_creation(ARN)
        else:
            asyncio.run(call_async(kwargs))
        results.append(["success", None, ""])
    except sib.ImageBuilderError as exc:
        results.append(describe(exc))
print(json.dumps({"results": results, "growth_mib": peak_mib() - before}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
@modes
def test_huge_and_compressed_replies_are_read_within_a_bound(mode: str) -> None:
    """A gzip member inflating to 2 GiB, and a 512 MiB plain body, on 2xx and 5xx.

    Before the bound, the bomb grew the process by about 2 GiB and the plain
    body by about 1 GiB; now each stops at MAX_RESPONSE_BYTES.
    """
    gzip_headers = [("Content-Encoding", "gzip"), ("Content-Type", "application/json")]
    plain_headers = [("Content-Length", str(512 * _MIB))]
    replies = [
        Reply(status=200, headers=gzip_headers, chunks=bomb_chunks),
        Reply(status=503, headers=gzip_headers, chunks=bomb_chunks),
        Reply(status=200, headers=plain_headers, chunks=plain_chunks),
        Reply(status=500, headers=plain_headers, chunks=plain_chunks),
    ]
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(LoopbackServer(lambda r, x=x: x)) for x in replies]
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, mode, *(s.endpoint_url for s in servers)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    bound = f"the reply body is larger than {MAX_RESPONSE_BYTES} bytes"
    assert result["results"] == [
        ["ResponseParseError", 200, f"{bound} (HTTP 200, body '')"],
        [
            "ServiceError",
            503,
            "An error occurred (503) when calling the CancelImageCreation operation: "
            "Service Unavailable",
        ],
        ["ResponseParseError", 200, f"{bound} (HTTP 200, body '')"],
        [
            "ServiceError",
            500,
            "An error occurred (500) when calling the CancelImageCreation operation: "
            "Internal Server Error",
        ],
    ]
    assert result["growth_mib"] < 200, result


# --- the body bound's decoder, unit by unit ---


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("", b'{"a": 1}'),
        ("identity", b'{"a": 1}'),
        ("gzip", gzip.compress(b'{"a": 1}', mtime=0)),
        ("x-gzip", gzip.compress(b'{"a": 1}', mtime=0)),
        ("deflate", zlib.compress(b'{"a": 1}')),
        ("deflate", zlib.compress(b'{"a": 1}')[2:-4]),  # raw deflate, as some servers send
    ],
)
def test_bounded_body_decodes(encoding: str, data: bytes) -> None:
    body = BoundedBody(encoding)
    for i in range(0, len(data), 3):
        body.feed(data[i : i + 3])
    assert (body.body(), body.problem) == (b'{"a": 1}', None)


@pytest.mark.parametrize(
    ("encoding", "data", "problem"),
    [
        ("br", b"\x00\x01", "unsupported Content-Encoding 'br'"),
        ("gzip, gzip", b"", "unsupported Content-Encoding"),
        ("gzip", b"not gzip at all", "compressed body is corrupt"),
        ("gzip", gzip.compress(bytes(5000), mtime=0), "larger than 4096 bytes"),
        ("", bytes(4097), "larger than 4096 bytes"),
    ],
)
def test_bounded_body_refuses(encoding: str, data: bytes, problem: str) -> None:
    body = BoundedBody(encoding, limit=4096)
    body.feed(data)
    body.feed(b"more")  # ignored once refused
    assert body.done and problem in (body.problem or "") and body.body() == b""


def test_a_body_of_exactly_the_bound_is_kept() -> None:
    body = BoundedBody("gzip", limit=4096)
    body.feed(gzip.compress(b"x" * 4096))
    assert body.problem is None and body.body() == b"x" * 4096


def test_a_body_fed_a_byte_at_a_time_costs_about_its_size() -> None:
    # A hostile server can send its body as one-byte chunks; each arrives as
    # its own bytes object. Kept as a list, 1 MiB of them cost ~40 MiB.
    import tracemalloc

    size = 256 * 1024
    pieces = [bytes([i % 256]) for i in range(size)]  # allocated before tracing
    tracemalloc.start()
    try:
        body = BoundedBody("", limit=size)
        for piece in pieces:
            body.feed(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert body.problem is None and len(body.body()) == size
    assert peak < 4 * size, f"{peak} bytes traced for a {size}-byte body"


@modes
def test_unsupported_encoding_on_a_2xx_is_a_parse_error(mode: str) -> None:
    reply = Reply(headers=[("Content-Encoding", "br")], body=b"\x8b\x00")
    with LoopbackServer(lambda r: reply) as server:
        result = outcome(mode, server.endpoint_url)
    assert isinstance(result, sib.ResponseParseError)
    assert "unsupported Content-Encoding 'br'" in str(result)


@modes
def test_we_ask_for_identity_encoding_whatever_the_http_client_says(mode: str) -> None:
    recorder = Recorder(Reply(body=b"{}"))

    def factory(kind: str) -> httpx.Client | httpx.AsyncClient:
        headers = {"Accept-Encoding": "gzip, br"}
        return (
            httpx.Client(headers=headers) if kind == "sync" else httpx.AsyncClient(headers=headers)
        )

    with LoopbackServer(recorder) as server:
        result = outcome(mode, server.endpoint_url, http_client_factory=factory)
    assert isinstance(result, sib.CancelImageCreationResponse)
    assert [r.header("accept-encoding") for r in recorder.received] == ["identity"]


# --- redirects (9.1) ---


@modes
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed(
    mode: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    capture_everything(caplog)
    elsewhere = Recorder(Reply(body=b'{"requestId": "stolen"}'))
    with LoopbackServer(elsewhere) as other:
        redirect = Recorder(
            Reply(
                status=status,
                headers=[
                    ("Location", other.endpoint_url + "/CancelImageCreation"),
                    # a redirecting server's error type is not trusted either
                    ("x-amzn-ErrorType", "ThrottlingException"),
                ],
                body=b'{"message": "go elsewhere"}',
            )
        )

        def factory(kind: str) -> httpx.Client | httpx.AsyncClient:
            if kind == "sync":
                return httpx.Client(follow_redirects=True)
            return httpx.AsyncClient(follow_redirects=True)

        with LoopbackServer(redirect) as server:
            result = outcome(mode, server.endpoint_url, http_client_factory=factory)
    assert elsewhere.received == []
    assert len(redirect.received) == 1  # not retried
    assert type(result) is sib.ServiceError
    # The redirect's body is dropped: the message is the status's reason phrase.
    phrase = http.HTTPStatus(status).phrase
    assert (result.code, result.status_code, result.message) == (str(status), status, phrase)
    assert_no_secrets(result, caplog=caplog, extra=signatures(redirect.received))


# --- total deadline per attempt (9.9) ---


def dribble(request: ReceivedRequest) -> Reply:
    """A reply whose 100-byte body comes one byte every 0.1 s: 10 s in all."""
    return Reply(
        headers=[("Content-Length", "100")],
        chunks=lambda: (b" " for _ in range(100)),
        chunk_delay=0.1,
    )


@modes
def test_attempt_timeout_bounds_a_dribbling_reply(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    capture_everything(caplog)
    with LoopbackServer(dribble) as server:
        start = time.monotonic()
        result = outcome(mode, server.endpoint_url, max_attempts=1, attempt_timeout=0.3)
        elapsed = time.monotonic() - start
    assert isinstance(result, sib.TransportTimeoutError)
    assert "longer than 0.3 s" in str(result)
    assert elapsed < 5  # the reply alone takes 10 s: a functional bound, not a speed test
    assert_no_secrets(result, caplog=caplog)


@contextlib.contextmanager
def head_dribbler(delay: float = 0.3, head: bytes | None = None) -> Iterator[str]:
    """A server whose reply *head* comes one byte every ``delay`` s: 30 s in all by default.

    Every read gets a byte well within any read timeout, so only a deadline
    that bounds each socket wait can end the exchange before the head does.
    """
    import socket

    reply = head or b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 80 + b"\r\nContent-Length: 0\r\n\r\n"
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def dribble(conn: socket.socket) -> None:
        with conn:
            try:
                data = b""
                while b"\r\n\r\n" not in data or len(data) < _request_size(data):
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                for byte in reply:
                    if stop.wait(delay):
                        return
                    conn.sendall(bytes([byte]))
                stop.wait()
            except OSError:
                pass  # the client gave up, as it should

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=dribble, args=(conn,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for thread in [acceptor, *threads]:
            thread.join(5)


async def test_attempt_timeout_bounds_a_dribbling_head_on_the_async_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The whole exchange is cancelled at the deadline, the head included.
    capture_everything(caplog)
    with head_dribbler() as endpoint:
        start = time.monotonic()
        result = await asyncio.to_thread(
            outcome, "async", endpoint, max_attempts=1, attempt_timeout=0.3
        )
        elapsed = time.monotonic() - start
    assert isinstance(result, sib.TransportTimeoutError)
    assert "longer than 0.3 s" in str(result)
    assert elapsed < 3  # the deadline, not the head (30 s): a functional bound
    assert_no_secrets(result, caplog=caplog)


@pytest.mark.parametrize("users", [False, True], ids=["own", "users"])
def test_the_sync_client_waits_for_a_dribbled_head_then_reports_the_deadline(
    users: bool,
) -> None:
    """The README's limit: urllib3 (as botocore) gives each socket read the read
    timeout, so a head dribbled byte by byte runs past ``attempt_timeout`` (1 s
    here against 0.3 s); the deadline is checked once the head is in."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    factory = (lambda mode: httpx.Client()) if users else None
    with head_dribbler(delay=1.0 / len(head), head=head) as endpoint:
        start = time.monotonic()
        result = outcome(
            "sync", endpoint, max_attempts=1, attempt_timeout=0.3, http_client_factory=factory
        )
        elapsed = time.monotonic() - start
    assert isinstance(result, sib.TransportTimeoutError)
    assert "longer than 0.3 s" in str(result)
    assert elapsed > 0.8  # the head's 1 s: the limit is real, and written down


def _get(url: str) -> HttpRequest:
    return HttpRequest(method="GET", url=url + "/latest/meta-data/", headers=(), body=b"")


def test_a_credential_sources_send_timeout_is_a_total_deadline_sync() -> None:
    with (
        LoopbackServer(dribble) as server,
        sib.ImageBuilderClient(region="us-east-1", credentials=CREDS) as client,
    ):
        outcome_ = client._send(Send(_get(server.endpoint_url), timeout=0.3))
    assert isinstance(outcome_.error, sib.TransportTimeoutError)
    assert outcome_.elapsed < 5


async def test_a_credential_sources_deadline_bounds_a_dribbled_head_async() -> None:
    # The head alone takes 30 s; a credential source's send has a total deadline
    # (0.3 s here), which cancels the async client's whole exchange.
    with head_dribbler() as endpoint:
        async with sib.AsyncImageBuilderClient(region="us-east-1", credentials=CREDS) as client:
            outcome_ = await client._send(Send(_get(endpoint), timeout=0.3))
    assert isinstance(outcome_.error, sib.TransportTimeoutError)
    assert "longer than 0.3 s" in str(outcome_.error)
    assert 0.25 < outcome_.elapsed < 2


async def test_a_credential_sources_send_timeout_is_a_total_deadline_async() -> None:
    with LoopbackServer(dribble) as server:
        async with sib.AsyncImageBuilderClient(region="us-east-1", credentials=CREDS) as client:
            outcome_ = await client._send(Send(_get(server.endpoint_url), timeout=0.3))
    assert isinstance(outcome_.error, sib.TransportTimeoutError)
    assert outcome_.elapsed < 5


def test_a_sends_deadline_only_tightens_the_clients_bounds() -> None:
    # A waiter's time left: it must never loosen a shorter client timeout.
    request = _get("http://127.0.0.1:9")
    http = httpx.Client(timeout=60.0)
    with http:
        client_timeout = httpx.Timeout(10.0, read=60.0)
        tight = phase_timeouts(Send(request, deadline=2.0), http, client_timeout, None)
        assert set(tight.values()) == {2.0}
        loose = phase_timeouts(Send(request, deadline=500.0), http, client_timeout, 30.0)
        assert loose == {"connect": 10.0, "read": 30.0, "write": 10.0, "pool": 10.0}
        source = phase_timeouts(Send(request, timeout=1.0, deadline=0.5), http, None, None)
        assert set(source.values()) == {0.5}
    assert deadline_of(Send(request, deadline=2.0), None) == 2.0
    assert deadline_of(Send(request, deadline=2.0), 30.0) == 2.0
    assert deadline_of(Send(request, deadline=50.0), 30.0) == 30.0
    assert deadline_of(Send(request, timeout=1.0, deadline=50.0), 30.0) == 1.0
    assert deadline_of(Send(request), None) is None


def test_a_sends_deadline_bounds_a_dribbling_reply() -> None:
    with (
        LoopbackServer(dribble) as server,
        sib.ImageBuilderClient(region="us-east-1", credentials=CREDS) as client,
    ):
        outcome_ = client._send(Send(_get(server.endpoint_url), deadline=0.3))
    assert isinstance(outcome_.error, sib.TransportTimeoutError)
    assert outcome_.elapsed < 5  # the reply alone takes 10 s


def test_a_reply_within_the_deadline_is_read_whole() -> None:
    with LoopbackServer(lambda r: Reply(body=b'{"requestId": "r"}')) as server:
        result = outcome("sync", server.endpoint_url, attempt_timeout=5)
    assert isinstance(result, sib.CancelImageCreationResponse) and result.request_id == "r"


# --- validation at construction (9.14) ---


@pytest.mark.parametrize("client_class", [sib.ImageBuilderClient, sib.AsyncImageBuilderClient])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("timeout", float("inf")),
        ("timeout", float("nan")),
        ("timeout", -1),
        ("timeout", 0),
        ("timeout", True),
        ("timeout", "5"),
        ("timeout", httpx.Timeout(5.0, connect=float("inf"))),
        ("timeout", httpx.Timeout(float("nan"))),
        ("timeout", httpx.Timeout(-1.0)),
        # Finite but absurd: the sync socket layer overflows at connect time.
        ("timeout", 1e10),
        ("timeout", 10**400),
        ("timeout", httpx.Timeout(5.0, read=1e10)),
        ("attempt_timeout", 1e10),
        ("attempt_timeout", float("inf")),
        ("attempt_timeout", float("nan")),
        ("attempt_timeout", 0),
        ("attempt_timeout", -0.5),
        ("attempt_timeout", True),
        ("attempt_timeout", "1"),
        ("max_concurrency", 0),
        ("max_concurrency", -3),
        ("max_concurrency", 1.5),
        ("max_concurrency", True),
        ("max_concurrency", "10"),
    ],
)
def test_bad_timeouts_and_limits_are_refused_at_construction(
    client_class: type[sib.ImageBuilderClient], name: str, value: object
) -> None:
    with pytest.raises(sib.ParamValidationError) as info:
        client_class(region="us-east-1", credentials=CREDS, **{name: value})  # type: ignore[arg-type]
    assert info.value.param == name


def test_good_timeouts_and_limits_are_kept() -> None:
    with sib.ImageBuilderClient(
        region="us-east-1",
        credentials=CREDS,
        timeout=httpx.Timeout(5.0, pool=None),
        attempt_timeout=2,
        max_concurrency=7,
    ) as client:
        assert client.max_concurrency == 7


# --- local refusals are typed and never retried (9.14) ---


@pytest.mark.parametrize(
    "exc",
    [
        httpx.LocalProtocolError(f"Illegal header value b'{SESSION_TOKEN}\\r'"),
        httpx.InvalidURL(f"Invalid non-printable ASCII character in URL, {SECRET!r}"),
        httpx.UnsupportedProtocol(f"Request URL is missing a protocol: {SECRET}"),
    ],
)
def test_local_httpx_errors_are_configuration_errors_without_the_value(exc: Exception) -> None:
    error = map_transport_error(exc)
    assert type(error) is sib.ConfigurationError
    assert error.__cause__ is None and error.__suppress_context__
    assert type(exc).__name__ in str(error)
    assert_no_secrets(error)


def _unchecked(**fields: str) -> sib.Credentials:
    """Credentials holding values their own validators refuse (a provider's bug).

    The transport refuses unsafe header values again before httpx sees
    them; this checks that second line of defence.
    """
    credentials = sib.Credentials("AKID", SECRET, session_token=SESSION_TOKEN)
    for name, value in fields.items():
        object.__setattr__(credentials, name, value)
    return credentials


class CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return super().handle_request(request)


@pytest.mark.parametrize(
    "credentials",
    [
        _unchecked(session_token=SESSION_TOKEN + "\r"),
        _unchecked(session_token=SESSION_TOKEN + "\nX-Injected: 1"),
        _unchecked(session_token=SESSION_TOKEN + "\u00e9"),
        _unchecked(access_key_id="AKID\r"),
    ],
)
def test_a_header_httpx_will_not_send_fails_once_without_showing_it(
    credentials: sib.Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    capture_everything(caplog)
    recorder = Recorder(Reply(body=b"{}"))
    transport = CountingTransport()
    with LoopbackServer(recorder) as server, httpx.Client(transport=transport) as http:
        client = sib.ImageBuilderClient(
            region="us-east-1",
            credentials=credentials,
            endpoint_url=server.endpoint_url,
            http_client=http,
            retry_policy=NO_SLEEP,
        )
        with pytest.raises(sib.ImageBuilderError) as info:
            client.cancel_image_creation(ARN)
    assert not isinstance(info.value, sib.TransportError)  # local: never retried
    assert transport.calls <= 1 and recorder.received == []
    assert_no_secrets(info.value, caplog=caplog)


def test_a_bad_header_from_the_users_http_client_is_not_retried() -> None:
    transport = CountingTransport()
    recorder = Recorder(Reply(body=b"{}"))
    with (
        LoopbackServer(recorder) as server,
        httpx.Client(transport=transport, headers={"X-Evil": "v\r\nInjected: 1"}) as http,
    ):
        client = sib.ImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url,
            http_client=http, retry_policy=NO_SLEEP,
        )  # fmt: skip
        with pytest.raises(sib.ConfigurationError, match="LocalProtocolError"):
            client.cancel_image_creation(ARN)
    assert transport.calls == 1 and recorder.received == []


# --- one client, one event loop (9.14) ---


def test_an_async_client_used_from_a_second_event_loop_is_a_typed_error() -> None:
    reply = Reply(headers=[("Connection", "close")], body=b'{"requestId": "r"}')
    with LoopbackServer(lambda r: reply) as server:
        client = sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url
        )
        assert asyncio.run(client.cancel_image_creation(ARN)).request_id == "r"
        with pytest.raises(sib.ImageBuilderError, match="another event loop"):
            asyncio.run(client.cancel_image_creation(ARN))

        async def close() -> None:
            await client.aclose()

        asyncio.run(close())


# --- a closed client raises the root error, never httpx's RuntimeError (14.6) ---


@pytest.mark.parametrize("when", ["before", "during"])
def test_closed_sync_client_raises_the_root_error(when: str) -> None:
    http = httpx.Client()

    def credentials() -> sib.Credentials:
        if when == "during":
            http.close()  # closed by someone else between credentials and send
        return CREDS

    client = sib.ImageBuilderClient(
        region="us-east-1", credentials=credentials, endpoint_url="http://127.0.0.1:9",
        http_client=http,
    )  # fmt: skip
    if when == "before":
        http.close()
    with pytest.raises(sib.ImageBuilderError, match="this client is closed") as info:
        client.cancel_image_creation(ARN)
    assert type(info.value) is sib.ImageBuilderError


@pytest.mark.parametrize("when", ["before", "during"])
async def test_closed_async_client_raises_the_root_error(when: str) -> None:
    http = httpx.AsyncClient()
    closing: list[asyncio.Task[None]] = []

    def credentials() -> sib.Credentials:
        return CREDS

    client = sib.AsyncImageBuilderClient(
        region="us-east-1", credentials=credentials, endpoint_url="http://127.0.0.1:9",
        http_client=http,
    )  # fmt: skip
    if when == "before":
        await http.aclose()
    else:
        # httpx's AsyncClient refuses sends once closed; close it from inside
        # the call, after the client checked it was open.
        original = http.send

        async def close_then_send(*args: Any, **kwargs: Any) -> httpx.Response:
            await http.aclose()
            return await original(*args, **kwargs)

        http.send = close_then_send  # type: ignore[method-assign]
    with pytest.raises(sib.ImageBuilderError, match="this client is closed") as info:
        await client.cancel_image_creation(ARN)
    assert type(info.value) is sib.ImageBuilderError and not closing


# --- in-flight bound (9.13) ---


class InFlight:
    """A canned 200 that notes how many requests the server holds at once."""

    def __init__(self, hold: float = 0.005) -> None:
        self.hold = hold
        self.now = 0
        self.peak = 0
        self.total = 0
        self._lock = threading.Lock()

    def __call__(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            self.now += 1
            self.total += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.hold)
        with self._lock:
            self.now -= 1
        return Reply(body=b'{"requestId": "r"}')


async def test_a_gather_of_500_cancels_on_one_async_client_all_succeed() -> None:
    """The README's one-liner, with 100 waiters per connection.

    Without the client's own bound, httpcore's pool collapses when far more
    requests wait than it has connections (encode/httpx#3215): 2,000 on a
    pool of 100 mostly failed with PoolTimeout. 500 on a limit of 5 is a
    steeper ratio at a cost the suite can afford; ``make bench`` runs 10,000.
    """
    server_state = InFlight()
    with LoopbackServer(server_state) as server:
        async with sib.AsyncImageBuilderClient(
            region="us-east-1",
            credentials=CREDS,
            endpoint_url=server.endpoint_url,
            max_concurrency=5,
            max_attempts=1,
            # Calls wait for their turn in the client, never in httpcore's
            # pool: a pool wait of a second would be a PoolTimeout.
            timeout=httpx.Timeout(10.0, pool=1.0),
        ) as client:
            results = await asyncio.wait_for(
                asyncio.gather(*(client.cancel_image_creation(ARN) for _ in range(500))),
                timeout=120,  # generous: a hang, not a speed, is what this catches
            )
    assert len(results) == 500 and {r.request_id for r in results} == {"r"}
    assert server_state.total == 500
    assert 1 < server_state.peak <= 5


def test_threads_past_the_limit_wait_their_turn_on_a_sync_client() -> None:
    server_state = InFlight(hold=0.02)
    with (
        LoopbackServer(server_state) as server,
        sib.ImageBuilderClient(
            region="us-east-1",
            credentials=CREDS,
            endpoint_url=server.endpoint_url,
            max_concurrency=4,
            max_attempts=1,
        ) as client,
        concurrent.futures.ThreadPoolExecutor(32) as pool,
    ):
        results = list(pool.map(lambda _: client.cancel_image_creation(ARN), range(200)))
    assert len(results) == 200 and server_state.total == 200
    assert 1 < server_state.peak <= 4


def test_the_default_limit_is_httpxs_pool_size_whatever_the_users_client() -> None:
    # A user's client's pool is httpx's business (read it only through private
    # names); its in-flight limit is max_concurrency, else httpx's default 100.
    with httpx.Client(limits=httpx.Limits(max_connections=7)) as http:
        client = sib.ImageBuilderClient(region="us-east-1", credentials=CREDS, http_client=http)
        assert client.max_concurrency == DEFAULT_MAX_CONCURRENCY == 100
        client = sib.ImageBuilderClient(
            region="us-east-1", credentials=CREDS, http_client=http, max_concurrency=7
        )
        assert client.max_concurrency == 7


async def test_the_default_limit_of_an_async_client() -> None:
    async with sib.AsyncImageBuilderClient(region="us-east-1", credentials=CREDS) as own:
        assert own.max_concurrency == DEFAULT_MAX_CONCURRENCY


@modes
def test_a_capped_reply_closes_its_connection_and_the_client_goes_on(mode: str) -> None:
    """The unread rest of a too-large reply must not be read as the next reply."""
    replies = iter(
        [
            Reply(
                status=500,
                headers=[("Content-Length", str(64 * _MIB))],
                chunks=lambda: (b"x" * _MIB for _ in range(64)),
            ),
            Reply(body=b'{"requestId": "second"}'),
        ]
    )
    with LoopbackServer(lambda request: next(replies)) as server:
        result = outcome(mode, server.endpoint_url)
    assert isinstance(result, sib.CancelImageCreationResponse)
    assert (result.request_id, result.metadata.retry_attempts) == ("second", 1)


@modes
def test_a_corrupt_compressed_body_is_a_transport_error_as_with_httpx(mode: str) -> None:
    recorder = Recorder(Reply(headers=[("Content-Encoding", "gzip")], body=b"not gzip at all"))
    with LoopbackServer(recorder) as server:
        result = outcome(mode, server.endpoint_url)
    assert type(result) is sib.TransportError and "DecodingError" in str(result)
    assert len(recorder.received) == 3  # retried like any transport failure


@contextlib.contextmanager
def _dribbling_body() -> Iterator[str]:
    with LoopbackServer(dribble) as server:
        yield server.endpoint_url


@modes
@pytest.mark.parametrize("where", ["body", "head"])
def test_a_dribbling_instance_metadata_endpoint_gives_up_within_seconds(
    mode: str, where: str, tmp_path: Path
) -> None:
    """Instance metadata is documented as 1 s per request: it was 30 s and more.

    A dribbled head too, on the async client; on the sync client a dribbled
    head is urllib3's limit (see the README), so the short one here ends.
    """
    if where == "head" and mode == "sync":
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        dribbler = head_dribbler(delay=2.0 / len(head), head=head)
    else:
        dribbler = head_dribbler() if where == "head" else _dribbling_body()
    with dribbler as imds:
        env = {
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds,
        }
        start = time.monotonic()
        result = outcome(mode, "http://127.0.0.1:9", credentials=None, env=env)
        elapsed = time.monotonic() - start
    assert isinstance(result, (sib.NoCredentialsError, sib.CredentialRetrievalError))
    assert elapsed < 15  # a dribbled reply alone takes 30 s: a functional bound


# --- the direct path: our own clients send through the transport, a user's through send() ---

_CANCEL_REPLY = json.dumps({"requestId": "r", "clientToken": "t", "imageBuildVersionArn": ARN})


def _reply(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=_CANCEL_REPLY.encode(), headers={"x-amzn-RequestId": "r"})


def _wire_request() -> httpx.Request:
    send = Send(
        HttpRequest(
            method="POST",
            url="http://mounted.test/CancelImageCreation",
            headers=(("Host", "mounted.test"), ("Content-Type", "application/json")),
            body=b"{}",
        )
    )
    return _transport.build_request(send, httpx.Client(), {})


@modes
def test_a_users_client_keeps_its_event_hooks_and_mounts(mode: str) -> None:
    hooked: list[str] = []
    mounted: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        mounted.append(request)
        return _reply(request)

    def on_request(request: httpx.Request) -> None:
        hooked.append(str(request.url))

    async def aon_request(request: httpx.Request) -> None:
        hooked.append(str(request.url))

    endpoint = "http://users-mount.test"
    kwargs: dict[str, Any] = {
        "region": "us-east-1",
        "credentials": CREDS,
        "endpoint_url": endpoint,
        "max_attempts": 1,
    }
    if mode == "sync":
        http = httpx.Client(
            mounts={endpoint: httpx.MockTransport(handler)},
            event_hooks={"request": [on_request]},
        )
        with sib.ImageBuilderClient(http_client=http, **kwargs) as client:
            client.cancel_image_creation(ARN)
    else:

        async def run() -> None:
            async def ahandler(request: httpx.Request) -> httpx.Response:
                return handler(request)

            http = httpx.AsyncClient(
                mounts={endpoint: httpx.MockTransport(ahandler)},
                event_hooks={"request": [aon_request]},
            )
            async with sib.AsyncImageBuilderClient(http_client=http, **kwargs) as client:
                await client.cancel_image_creation(ARN)

        asyncio.run(run())
    assert hooked == [f"{endpoint}/CancelImageCreation"]
    assert len(mounted) == 1 and mounted[0].headers["authorization"].startswith("AWS4-HMAC")


# --- TLS: our own clients verify certificates, with the CA bundle read late ---

TLS_DIR = Path(__file__).parent / "tls"
SELF_SIGNED = str(TLS_DIR / "selfsigned.pem")


def _request_size(data: bytes) -> int:
    # The head and, once the head is in, its Content-Length worth of body:
    # closing with unread bytes would reset the connection under the reply.
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(head) + 4


@contextlib.contextmanager
def tls_server() -> Iterator[str]:
    """A one-thread HTTPS server on 127.0.0.1 with a self-signed certificate."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(SELF_SIGNED, str(TLS_DIR / "selfsigned.key"))
    body = _CANCEL_REPLY.encode()
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-amzn-RequestId: r\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with echoing_server(lambda request: reply, tls=context) as endpoint:
        yield endpoint


@modes
def test_our_own_client_refuses_a_self_signed_certificate(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with tls_server() as endpoint:
        kwargs: dict[str, Any] = {
            "region": "us-east-1",
            "credentials": CREDS,
            "endpoint_url": endpoint,
            "max_attempts": 1,
        }
        with pytest.raises(sib.TransportError) as info:
            if mode == "sync":
                with sib.ImageBuilderClient(**kwargs) as client:
                    client.cancel_image_creation(ARN)
            else:

                async def run() -> None:
                    async with sib.AsyncImageBuilderClient(**kwargs) as client:
                        await client.cancel_image_creation(ARN)

                asyncio.run(run())
    # ssl's words, kept in the error's text; the engine's own exception is not chained.
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert SECRET not in str(info.value)


@modes
def test_a_users_client_with_verify_false_reaches_a_self_signed_server(mode: str) -> None:
    with tls_server() as endpoint:
        kwargs: dict[str, Any] = {
            "region": "us-east-1",
            "credentials": CREDS,
            "endpoint_url": endpoint,
            "max_attempts": 1,
        }
        if mode == "sync":
            with sib.ImageBuilderClient(http_client=httpx.Client(verify=False), **kwargs) as client:
                result = client.cancel_image_creation(ARN)
        else:

            async def run() -> Any:
                async with sib.AsyncImageBuilderClient(
                    http_client=httpx.AsyncClient(verify=False), **kwargs
                ) as client:
                    return await client.cancel_image_creation(ARN)

            result = asyncio.run(run())
    assert result.image_build_version_arn == ARN


@modes
@pytest.mark.parametrize("source", ["AWS_CA_BUNDLE", "profile", "REQUESTS_CA_BUNDLE"])
def test_our_own_client_trusts_the_ca_bundle_botocore_would(
    mode: str, source: str, tmp_path: Path
) -> None:
    """AWS_CA_BUNDLE > the profile's ca_bundle > REQUESTS_CA_BUNDLE, as botocore."""
    env = {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    if source == "profile":
        (tmp_path / "config").write_text(f"[default]\nca_bundle = {SELF_SIGNED}\n")
    else:
        env[source] = SELF_SIGNED
    with tls_server() as endpoint:
        result = outcome(mode, endpoint, max_attempts=1, env=env)
    assert isinstance(result, sib.CancelImageCreationResponse), result


def test_aws_ca_bundle_wins_over_the_profile_and_requests(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("[default]\nca_bundle = /nonexistent/profile.pem\n")
    env = {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CA_BUNDLE": SELF_SIGNED,
        "REQUESTS_CA_BUNDLE": "/nonexistent/requests.pem",
    }
    with tls_server() as endpoint:
        result = outcome("sync", endpoint, max_attempts=1, env=env)
    assert isinstance(result, sib.CancelImageCreationResponse), result


@pytest.mark.parametrize("client_class", [sib.ImageBuilderClient, sib.AsyncImageBuilderClient])
@pytest.mark.parametrize("problem", ["missing", "folder"])
def test_an_unreadable_ca_bundle_is_a_configuration_error_before_anything_is_sent(
    client_class: type[sib.ImageBuilderClient], problem: str, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.pem"
    if problem == "folder":
        bundle.mkdir()
    with pytest.raises(sib.ConfigurationError) as info:
        client_class(
            region="us-east-1",
            credentials=CREDS,
            endpoint_url="http://127.0.0.1:9",
            env={"AWS_CA_BUNDLE": str(bundle), "AWS_CONFIG_FILE": str(tmp_path / "none")},
        )
    assert str(bundle) in str(info.value) and "CA bundle" in str(info.value)


def test_a_raw_tls_failure_from_an_older_httpcore_is_a_connect_error() -> None:
    import ssl

    raw = ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate")
    error = map_transport_error(raw)
    assert isinstance(error, sib.ConnectError) and error.__cause__ is raw


async def test_a_raw_oserror_out_of_the_transport_is_ours() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise ConnectionResetError("reset by peer")

    async with sib.AsyncImageBuilderClient(
        region="us-east-1",
        credentials=CREDS,
        endpoint_url="http://127.0.0.1:9",
        max_attempts=1,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    ) as client:
        with pytest.raises(sib.ConnectError) as info:
            await client.cancel_image_creation(ARN)
    assert isinstance(info.value.__cause__, ConnectionResetError)


def _cookie_reply(request: httpx.Request) -> httpx.Response:
    reply = _reply(request)
    reply.headers["set-cookie"] = "seen=yes; Path=/"
    return reply


def _users_client(mode: str, cls: type | None = None) -> Any:
    endpoint = "http://users-mount.test"
    if mode == "sync":
        return (cls or httpx.Client)(mounts={endpoint: httpx.MockTransport(_cookie_reply)})

    async def ahandler(request: httpx.Request) -> httpx.Response:
        return _cookie_reply(request)

    return (cls or httpx.AsyncClient)(mounts={endpoint: httpx.MockTransport(ahandler)})


def _cancel_with(mode: str, http: Any) -> sib.CancelImageCreationResponse:
    kwargs: dict[str, Any] = {
        "region": "us-east-1",
        "credentials": CREDS,
        "endpoint_url": "http://users-mount.test",
        "max_attempts": 1,
        "http_client": http,
    }
    if mode == "sync":
        return sib.ImageBuilderClient(**kwargs).cancel_image_creation(ARN)

    async def run() -> sib.CancelImageCreationResponse:
        return await sib.AsyncImageBuilderClient(**kwargs).cancel_image_creation(ARN)

    return asyncio.run(run())


@modes
def test_a_users_client_is_used_as_given_and_keeps_its_cookies(mode: str) -> None:
    # Sent with its own send(): what it does with a reply's Set-Cookie is its own.
    http = _users_client(mode)
    assert _cancel_with(mode, http).request_id == "r"
    assert http.cookies.get("seen") == "yes"


@modes
def test_our_own_client_keeps_no_cookie_a_server_sets(mode: str) -> None:
    # A hostile server could otherwise grow the jar without end.
    reply = Reply(
        headers=[("Set-Cookie", f"c{i}=v; Path=/") for i in range(50)],
        body=_CANCEL_REPLY.encode(),
    )
    with LoopbackServer(lambda request: reply) as server:
        if mode == "sync":
            with sib.ImageBuilderClient(**client_kwargs(server.endpoint_url)) as client:
                client.cancel_image_creation(ARN)
                assert len(client._http.cookies) == 0
        else:

            async def run() -> None:
                async with sib.AsyncImageBuilderClient(
                    **client_kwargs(server.endpoint_url)
                ) as client:
                    await client.cancel_image_creation(ARN)
                    assert len(client._http.cookies) == 0

            asyncio.run(run())


@modes
def test_a_hook_added_to_a_users_client_later_still_runs(mode: str) -> None:
    seen: list[str] = []

    def on_response(response: httpx.Response) -> None:
        seen.append(response.headers["x-amzn-RequestId"])

    async def aon_response(response: httpx.Response) -> None:
        on_response(response)

    http = _users_client(mode)
    assert _cancel_with(mode, http).request_id == "r"
    assert seen == []
    http.event_hooks["response"].append(on_response if mode == "sync" else aon_response)
    _cancel_with(mode, http)
    assert seen == ["r"]


@modes
def test_a_subclassed_users_client_goes_through_send(mode: str) -> None:
    # A subclass may override any step of send(); the library cannot know
    # which, so it calls send() and every step applies.
    steps: list[str] = []
    base = httpx.Client if mode == "sync" else httpx.AsyncClient

    class Tracing(base):  # type: ignore[valid-type,misc]
        def _send_handling_auth(self, *args: Any, **kwargs: Any) -> Any:
            steps.append("auth")
            return super()._send_handling_auth(*args, **kwargs)

    http = _users_client(mode, Tracing)
    assert _cancel_with(mode, http).request_id == "r"
    assert steps == ["auth"]


@modes
@pytest.mark.parametrize("whose", ["own", "users"])
def test_an_environment_proxy_carries_the_request(
    mode: str, whose: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The endpoint's name resolves nowhere: only the proxy can have answered.
    proxy = Recorder(Reply(status=200, body=_CANCEL_REPLY.encode()))
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with LoopbackServer(proxy) as server:
        monkeypatch.setenv("HTTP_PROXY", server.endpoint_url)
        monkeypatch.setenv("http_proxy", server.endpoint_url)
        factory = None
        if whose == "users":
            factory = lambda mode: httpx.Client() if mode == "sync" else httpx.AsyncClient()  # noqa: E731
        result = outcome(
            mode,
            "http://imagebuilder.proxied.invalid",
            max_attempts=1,
            http_client_factory=factory,
        )
    assert isinstance(result, sib.CancelImageCreationResponse), result
    assert [r.header("host") for r in proxy.received] == ["imagebuilder.proxied.invalid"]


@contextlib.contextmanager
def echoing_server(answer: Any, *, tls: Any = None) -> Iterator[str]:
    """A one-thread HTTP server on 127.0.0.1 (HTTPS with ``tls``, an
    ``ssl.SSLContext``) whose reply bytes are ``answer(request bytes)``."""
    import socket
    import ssl

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                continue
            try:
                raw.settimeout(5)
                with tls.wrap_socket(raw, server_side=True) if tls else raw as conn:
                    data = b""
                    while b"\r\n\r\n" not in data or len(data) < _request_size(data):
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    conn.sendall(answer(data))
            except (OSError, ssl.SSLError):
                pass  # the client hung up, or refused our certificate, as it should
            finally:
                raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _sent(request: bytes, name: bytes) -> bytes:
    for line in request.split(b"\r\n"):
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    raise AssertionError(f"no {name!r} header sent")


def _echo_in_a_bad_header_line(request: bytes) -> bytes:
    # A NUL makes the line invalid; h11's error text quotes the line.
    return (
        b"HTTP/1.1 200 OK\r\nx-echo: " + _sent(request, b"x-amz-security-token") + b"\x00"
        b"\r\nx-sig: " + _sent(request, b"authorization") + b"\x00\r\nContent-Length: 0\r\n\r\n"
    )


def _echo_in_the_reason_phrase(request: bytes) -> bytes:
    body = b'{"message": "no"}'
    return (
        b"HTTP/1.1 400 " + _sent(request, b"x-amz-security-token") + b"\r\n"
        b"x-amzn-ErrorType: InvalidRequestException\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


@modes
@pytest.mark.parametrize("whose", ["own", "users"])
@pytest.mark.parametrize("answer", [_echo_in_a_bad_header_line, _echo_in_the_reason_phrase])
def test_a_server_echoing_our_secrets_into_the_reply_head_gets_them_nowhere(
    mode: str, whose: str, answer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Both our transport and httpcore (a user's client) quote a malformed
    # header line in their error, and httpx logs the server's reason phrase.
    # Not checked: httpcore's own DEBUG trace, which prints every reply head
    # as received (a user's client only; ours do not log heads at all).
    capture_everything(caplog)
    caplog.set_level(logging.INFO, logger="httpcore")
    signatures_sent: list[str] = []

    def recording(request: bytes) -> bytes:
        signatures_sent.append(_sent(request, b"authorization").decode().rsplit("=", 1)[1])
        return answer(request)

    factory = None
    if whose == "users":
        factory = lambda mode: httpx.Client() if mode == "sync" else httpx.AsyncClient()  # noqa: E731
    with echoing_server(recording) as endpoint:
        result = outcome(mode, endpoint, max_attempts=1, http_client_factory=factory)
    assert isinstance(result, sib.ImageBuilderError), result
    assert signatures_sent
    assert_no_secrets(result, caplog=caplog, extra=signatures_sent)


@modes
@pytest.mark.parametrize("max_attempts", [1, 2])
def test_a_kept_alive_connection_dropped_under_a_request_is_sent_again_only_as_an_attempt(
    mode: str, max_attempts: int
) -> None:
    # The server reads the second call's request on the kept-alive connection
    # and hangs up: it may have acted on it. Sending it again is a retry, and
    # only max_attempts allows one (as botocore; aiohttp resends silently).
    ok = Reply(
        headers=[("x-amzn-RequestId", "r"), ("Content-Type", "application/json")],
        body=_CANCEL_REPLY.encode(),
    )
    replies = iter([ok, Reply(drop=True), ok])
    recorder = Recorder(ok)

    def handler(request: ReceivedRequest) -> Reply:
        recorder.received.append(request)
        return next(replies)

    async def calls_async(endpoint: str) -> list[Any]:
        async with sib.AsyncImageBuilderClient(
            **client_kwargs(endpoint, max_attempts=max_attempts)
        ) as client:
            results: list[Any] = []
            for _ in range(2):
                try:
                    results.append(await client.cancel_image_creation(ARN))
                except sib.ImageBuilderError as exc:
                    results.append(exc)
            return results

    with LoopbackServer(handler) as server:
        if mode == "sync":
            results: list[Any] = []
            with sib.ImageBuilderClient(
                **client_kwargs(server.endpoint_url, max_attempts=max_attempts)
            ) as client:
                for _ in range(2):
                    try:
                        results.append(client.cancel_image_creation(ARN))
                    except sib.ImageBuilderError as exc:
                        results.append(exc)
        else:
            results = asyncio.run(calls_async(server.endpoint_url))
    assert isinstance(results[0], sib.CancelImageCreationResponse)
    if max_attempts == 1:
        assert isinstance(results[1], sib.ConnectionClosedError), results[1]
        assert len(recorder.received) == 2
    else:
        assert isinstance(results[1], sib.CancelImageCreationResponse), results[1]
        assert results[1].metadata.retry_attempts == 1
        assert len(recorder.received) == 3


def _echo_into_the_error(request: bytes) -> bytes:
    token = _sent(request, b"x-amz-security-token")
    signature = _sent(request, b"authorization").rsplit(b"=", 1)[1]
    body = b'{"__type": "' + token + b'", "message": "you sent ' + signature + b'"}'
    return (
        b"HTTP/1.1 400 Bad Request\r\nx-amzn-ErrorType: " + token + b"\r\n"
        b"x-amzn-RequestId: " + token + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def _echo_into_a_success(request: bytes) -> bytes:
    token = _sent(request, b"x-amz-security-token")
    body = json.dumps(
        {"requestId": token.decode(), "clientToken": "t", "imageBuildVersionArn": ARN}
    ).encode()
    return (
        b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: " + token + b"\r\nx-echo: " + token + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


@modes
@pytest.mark.parametrize("answer", [_echo_into_the_error, _echo_into_a_success])
def test_a_server_echoing_our_secrets_into_the_reply_gets_them_nowhere(
    mode: str, answer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The error code, message and request id, and a result's fields, end up
    # in exception texts, reprs and log lines: what we sent in secret (the
    # token, the signature) is masked in the reply before anything reads it.
    capture_everything(caplog)
    caplog.set_level(logging.INFO, logger="httpcore")  # its DEBUG trace prints heads as is
    signatures_sent: list[str] = []

    def recording(request: bytes) -> bytes:
        signatures_sent.append(_sent(request, b"authorization").decode().rsplit("=", 1)[1])
        return answer(request)

    with echoing_server(recording) as endpoint:
        result = outcome(mode, endpoint, max_attempts=1)
    assert signatures_sent
    if answer is _echo_into_the_error:
        assert isinstance(result, sib.ServiceError), result
        assert result.code == "***" and "***" in result.message
    else:
        assert isinstance(result, sib.CancelImageCreationResponse), result
        assert result.request_id == "***"
    assert_no_secrets(result, caplog=caplog, extra=signatures_sent)


def test_the_library_clients_cookie_jar_keeps_nothing_even_set_by_hand() -> None:
    from sigv4_imagebuilder._engines import OwnAsyncClient, OwnClient

    for own in (OwnClient(), OwnAsyncClient()):
        own.cookies.set("a", "b")
        own.cookies = {"x": "y"}  # type: ignore[assignment]
        response = httpx.Response(
            200, headers={"Set-Cookie": "c=d"}, request=httpx.Request("GET", "http://h/")
        )
        own.cookies.extract_cookies(response)
        assert len(own.cookies) == 0
    # What boto3 sends: neither httpx's "Accept: */*" nor "Connection: keep-alive".
    with sib.ImageBuilderClient(region="us-east-1", credentials=CREDS) as client:
        assert "accept" not in client._http.headers
        assert "connection" not in client._http.headers


@modes
def test_a_plain_http_call_never_reads_the_ca_bundle(mode: str, tmp_path: Path) -> None:
    """The bundle is read at the first TLS request: a garbled one does not stop plain http
    (the stand-in), and costs a client that never speaks TLS nothing."""
    from sigv4_imagebuilder._engines import verifying_context

    verifying_context.cache_clear()
    garbled = tmp_path / "garbled.pem"
    garbled.write_text("-----BEGIN CERTIFICATE-----\nzz\n-----END CERTIFICATE-----\n")
    reply = Reply(headers=[("x-amzn-RequestId", "r")], body=_CANCEL_REPLY.encode())
    env = {"AWS_CA_BUNDLE": str(garbled), "AWS_CONFIG_FILE": str(tmp_path / "none")}
    with LoopbackServer(lambda request: reply) as server:
        result = outcome(mode, server.endpoint_url, max_attempts=1, env=env)
    assert isinstance(result, sib.CancelImageCreationResponse), result
    assert verifying_context.cache_info().currsize == 0
