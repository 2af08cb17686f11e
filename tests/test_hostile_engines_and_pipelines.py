"""Hostile servers, proxies, config files and batch loads against the engines and the pipeline calls (127.0.0.1 only).

Each test here was a real problem found by an adversarial pass (now fixed) or documents what held up.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import socket
import struct
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ARN, CREDS, NO_SLEEP, SECRET, SESSION_TOKEN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._cli_progress import LiveProgress, PlainProgress
from sigv4_imagebuilder.testing import DEFAULT_CREDENTIALS, LocalImageBuilder

PASSWORD = "PASSWORDdistinctive9876"
PIPELINE = "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/web"
IMAGE = "arn:aws:imagebuilder:us-east-1:123456789012:image/web/1.0.0/{}"
MODES = pytest.mark.parametrize("mode", ["sync", "async"])
IGNORE_BASIC_AUTH = pytest.mark.filterwarnings(
    "ignore:.*(BasicAuth|proxy_auth).*deprecated:DeprecationWarning"
)


# ---------------------------------------------------------------- a raw hostile server


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:  # read the body too: closing on unread bytes sends a reset
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return data


def security_token(request: bytes) -> bytes:
    for line in request.split(b"\r\n"):
        if line.lower().startswith(b"x-amz-security-token:"):
            return line.split(b":", 1)[1].strip()
    return b""


class RawServer:
    """Answers each connection's first request head with ``answer(head)`` bytes, then closes."""

    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self._answer = answer
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            head = _read_head(conn)
            reply = self._answer(head)
            if reply is None:  # reset: RST instead of FIN
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            with contextlib.suppress(OSError):
                conn.sendall(reply)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def call(mode: str, url: str, operation: Callable[[Any], Any], **options: Any) -> Any:
    """Run ``operation(client)`` on a fresh sync or async client; the result or the exception."""
    opts = {
        "region": "us-east-1",
        "credentials": CREDS,
        "endpoint_url": url,
        "retry_policy": NO_SLEEP,
        "max_attempts": 1,
        **options,
    }
    try:
        if mode == "sync":
            with sib.ImageBuilderClient(**opts) as client:
                return operation(client)

        async def go() -> Any:
            async with sib.AsyncImageBuilderClient(**opts) as client:
                result = operation(client)
                return await result if asyncio.iscoroutine(result) else result

        return asyncio.run(go())
    except Exception as exc:  # the probes look at whatever came out
        return exc


def cancel(client: Any) -> Any:
    return client.cancel_image_creation(ARN)


def all_texts(value: object) -> str:
    texts = [repr(value), str(value)]
    if isinstance(value, BaseException):
        texts.append("".join(traceback.format_exception(value)))
    return "\n".join(texts)


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    for name in ("sigv4_imagebuilder", "httpx", "httpcore", "urllib3", "aiohttp"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.exc_info!r}" for r in caplog.records)


# ---------------------------------------------------------------- secrets echoed by a hostile server


def _malformed_header_line(request: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nno colon "
        + security_token(request)
        + b"\r\n\r\n{}"
    )


def test_sync_malformed_header_line_echoing_the_token_is_not_logged(every_log: Any) -> None:
    with RawServer(_malformed_header_line) as server:
        result = call("sync", f"http://127.0.0.1:{server.port}", cancel)
    assert SESSION_TOKEN not in all_texts(result)
    assert SESSION_TOKEN not in logged(every_log)


def _echo_everywhere(request: bytes) -> bytes:
    head = request.split(b"\r\n\r\n")[0].replace(b"\r\n", b" | ")
    return (
        b"HTTP/1.1 500 "
        + head
        + b"\r\nX-Echo: "
        + head
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        + head
        + b"\r\n"
    )


@MODES
def test_echo_in_status_header_and_chunk_size_line_stays_hidden(mode: str, every_log: Any) -> None:
    with RawServer(_echo_everywhere) as server:
        result = call(mode, f"http://127.0.0.1:{server.port}", cancel)
    assert isinstance(result, sib.ImageBuilderError)
    joined = all_texts(result) + logged(every_log)
    for secret in (SECRET, SESSION_TOKEN):
        assert secret not in joined


@MODES
def test_list_reply_with_the_token_in_wrongly_typed_fields_redacts_it(mode: str) -> None:
    def answer(request: bytes) -> bytes:
        token = security_token(request).decode()
        body = json.dumps({"nextToken": 5, "imageSummaryList": [{"arn": token}]}).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body

    with RawServer(answer) as server:
        result = call(mode, f"http://127.0.0.1:{server.port}", _first_page)
    assert isinstance(result, sib.ResponseParseError)
    assert SESSION_TOKEN not in all_texts(result)


def _first_page(client: Any) -> Any:
    return client.list_image_pipeline_images(PIPELINE)


# ---------------------------------------------------------------- proxies from env=


PROXY_ANSWERS = {
    "407": lambda r: b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
    "garbage": lambda r: b"\x00\x01 garbage " + r[:300] + b"\r\n\r\n",
    "closes": lambda r: b"HTTP/1.1 200 Connection established\r\n",
    "echo": lambda r: b"HTTP/1.1 400 " + r.replace(b"\r\n", b" ")[:3000] + b"\r\n\r\n",
    "reset": lambda r: None,
}


# The lowest declared engines (urllib3 2.2, aiohttp 3.13) can leave a socket a broken proxy
# dropped to the garbage collector; its ResourceWarning is theirs, not this test's subject.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@IGNORE_BASIC_AUTH
@MODES
@pytest.mark.parametrize("behaviour", sorted(PROXY_ANSWERS))
def test_a_hostile_proxy_gives_typed_errors_and_never_shows_the_password(
    mode: str, behaviour: str, every_log: Any
) -> None:
    with RawServer(PROXY_ANSWERS[behaviour]) as server:
        env = {"HTTPS_PROXY": f"http://me:{PASSWORD}@127.0.0.1:{server.port}"}
        result = call(mode, "https://127.0.0.1:1", cancel, env=env)
    assert isinstance(result, sib.TransportError), repr(result)
    assert PASSWORD not in all_texts(result) + logged(every_log)


# The lowest declared engines (urllib3 2.2, aiohttp 3.13) can leave a socket a broken proxy
# dropped to the garbage collector; its ResourceWarning is theirs, not this test's subject.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@IGNORE_BASIC_AUTH
@MODES
def test_a_proxy_that_never_answers_is_bounded_by_attempt_timeout(mode: str) -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=0) as silent:
        env = {"HTTPS_PROXY": f"http://me:{PASSWORD}@127.0.0.1:{silent.getsockname()[1]}"}
        start = time.monotonic()
        result = call(mode, "https://127.0.0.1:1", cancel, env=env, attempt_timeout=0.5)
    assert isinstance(result, sib.TransportTimeoutError)
    assert time.monotonic() - start < 3


# aiohttp 3.13 (the lowest declared) can leave the proxy tunnel's socket to the garbage
# collector (conftest collects it under this filter); what this test proves is the absence
# of the DeprecationWarning aiohttp 3.14 gives for BasicAuth.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_an_authenticated_proxy_on_the_async_client_warns_nothing() -> None:
    with RawServer(PROXY_ANSWERS["407"]) as server:
        env = {"HTTPS_PROXY": f"http://me:{PASSWORD}@127.0.0.1:{server.port}"}
        result = call("async", "https://127.0.0.1:1", cancel, env=env)
    assert isinstance(result, sib.TransportError), repr(result)  # DeprecationWarning under -W error


BAD_PROXIES = [
    f"http://me:{PASSWORD}@127.0.0.1:notaport",
    f"http://me:{PASSWORD}@127.0.0.1:99999",
    f"http://me%3Ax:{PASSWORD}@127.0.0.1:1",
]


@IGNORE_BASIC_AUTH
@pytest.mark.parametrize("proxy", BAD_PROXIES, ids=["port-text", "port-range", "colon-user"])
def test_a_malformed_proxy_url_is_a_configuration_error_in_async_too(proxy: str) -> None:
    result = call("async", "http://127.0.0.1:1", cancel, env={"HTTP_PROXY": proxy})
    assert isinstance(result, sib.ConfigurationError), repr(result)
    assert PASSWORD not in all_texts(result)


# ---------------------------------------------------------------- careless CA bundles


def test_a_directory_as_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    for mode in ("sync", "async"):
        result = call(mode, "https://127.0.0.1:1", cancel, env={"AWS_CA_BUNDLE": str(tmp_path)})
        assert isinstance(result, sib.ConfigurationError)


@pytest.mark.parametrize(
    "content", [b"", b"-----BEGIN CERTIFICATE-----\nzz\n-----END CERTIFICATE-----\n"]
)
def test_an_empty_or_garbage_ca_bundle_is_a_configuration_error(
    tmp_path: Path, content: bytes
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(content)
    from sigv4_imagebuilder._engines import verifying_context

    verifying_context.cache_clear()
    # Read at the first TLS request, before anything is sent; the error names the file.
    for mode in ("sync", "async"):
        result = call(mode, "https://127.0.0.1:1", cancel, env={"AWS_CA_BUNDLE": str(bundle)})
        assert isinstance(result, sib.ConfigurationError), repr(result)
        assert str(bundle) in str(result)


# ---------------------------------------------------------------- hostile list replies


def _json(body: bytes) -> Callable[[bytes], bytes]:
    return lambda r: b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def _paginate(client: Any) -> Any:
    pages = client.paginate_image_pipeline_images(PIPELINE)
    if hasattr(pages, "__aiter__"):

        async def drain() -> list[Any]:
            return [s async for s in pages]

        return drain()
    return list(pages)


def test_an_oversized_next_token_from_the_server_is_not_blamed_on_the_caller() -> None:
    item = {"arn": IMAGE.format(1), "state": {"status": "BUILDING"}}
    with RawServer(
        _json(json.dumps({"imageSummaryList": [item], "nextToken": "t" * 70_000}).encode())
    ) as server:
        result = call("sync", f"http://127.0.0.1:{server.port}", _paginate)
    assert not isinstance(result, sib.ParamValidationError), str(result)[:120]


@pytest.mark.parametrize(
    "body",
    [
        b'{"imageSummaryList":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        json.dumps(
            {"imageSummaryList": [{"arn": IMAGE.format(i)} for i in range(60_000)]}
        ).encode(),
        b'{"imageSummaryList": [], "nextToken": ["x"]}',
    ],
    ids=["deep", "over-4MiB", "token-not-a-string"],
)
def test_hostile_list_bodies_are_response_parse_errors(body: bytes) -> None:
    with RawServer(_json(body)) as server:
        result = call("sync", f"http://127.0.0.1:{server.port}", _paginate)
    assert isinstance(result, sib.ResponseParseError)


# ---------------------------------------------------------------- what the command shows


def _outcome(status: str, outcome: str = "pending") -> sib.BuildCancelOutcome:
    return sib.BuildCancelOutcome(
        image_build_version_arn=IMAGE.format(1), outcome=outcome, status=status
    )


def test_plain_progress_never_prints_terminal_escapes() -> None:
    err = io.StringIO()
    progress = PlainProgress(err)
    progress([_outcome("BUILDING")])
    progress([_outcome("\x1b]0;pwned\x07\x1b[2J")])
    assert "\x1b" not in err.getvalue()


def test_live_progress_renders_a_status_that_looks_like_rich_markup() -> None:
    from rich.console import Console

    progress = LiveProgress(io.StringIO())
    progress._latest = (_outcome("[/bold][link=http://x]x"),)
    Console(file=io.StringIO(), width=100).print(progress._render())


def test_plain_progress_handles_a_change_without_rescanning_every_image() -> None:
    """Was O(n^2): each report rescanned every image. Now only the one the report names
    as changed is looked at: an entry the display touched here would raise."""
    from sigv4_imagebuilder._pipelines import _report_of

    class Untouchable:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the display read {name} of an unchanged image")

    n = 500
    outcomes = [
        sib.BuildCancelOutcome(
            image_build_version_arn=IMAGE.format(i), outcome="pending", status="B"
        )
        for i in range(n)
    ]
    err = io.StringIO()
    progress = PlainProgress(err)
    progress(_report_of(outcomes, None))
    untouchable: list[Any] = [Untouchable() for _ in range(n)]
    for i in range(n):
        changed = sib.BuildCancelOutcome(
            image_build_version_arn=IMAGE.format(i), outcome="cancelled", status="B"
        )
        report = [*untouchable[:i], changed, *untouchable[i + 1 :]]
        progress(_report_of(report, changed))
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 + n  # the opening line, then one per change
    assert all("[cancelled]" in line for line in lines[1:])


# ---------------------------------------------------------------- cancel_pipeline_builds in bulk


def _cancels(local: LocalImageBuilder) -> int:
    return sum(1 for r in local.requests if r.path.endswith("/CancelImageCreation"))


def _raise_on_first_done(outcomes: Any) -> None:
    if any(o.outcome != "pending" for o in outcomes):
        raise RuntimeError("on_progress failed")


def _local_client(local: LocalImageBuilder, cls: Any) -> Any:
    return cls(region="us-east-1", credentials=DEFAULT_CREDENTIALS, endpoint_url=local.endpoint_url)


def test_sync_on_progress_raising_stops_the_other_cancels() -> None:
    with LocalImageBuilder() as local:
        for i in range(1, 21):
            local.add_image(IMAGE.format(i), pipeline_arn=PIPELINE)
        with _local_client(local, sib.ImageBuilderClient) as client, pytest.raises(RuntimeError):
            client.cancel_pipeline_builds(
                PIPELINE, max_concurrency=1, on_progress=_raise_on_first_done
            )
        # Usually 1, but 2 or 3 seen under load: the worker whose on_progress raised goes on
        # to the next images until the caller's thread wakes and sets `stop` (finding 7).
        assert _cancels(local) <= 6


async def test_async_on_progress_raising_stops_the_other_cancels() -> None:
    with LocalImageBuilder() as local:
        for i in range(1, 21):
            local.add_image(IMAGE.format(i), pipeline_arn=PIPELINE)
        async with _local_client(local, sib.AsyncImageBuilderClient) as client:
            with pytest.raises(RuntimeError):
                await client.cancel_pipeline_builds(
                    PIPELINE, max_concurrency=1, on_progress=_raise_on_first_done
                )
            await asyncio.sleep(0.5)
            assert _cancels(local) == 1  # 20: every cancel was sent after the call had failed


async def test_async_two_thousand_images_with_huge_concurrency_all_finish() -> None:
    with LocalImageBuilder() as local:
        for i in range(1, 2001):
            local.add_image(IMAGE.format(i), pipeline_arn=PIPELINE)
        async with _local_client(local, sib.AsyncImageBuilderClient) as client:
            outcomes = await client.cancel_pipeline_builds(PIPELINE, max_concurrency=10_000)
    assert [o.outcome for o in outcomes] == ["cancelled"] * 2000


async def test_aiohttp_under_gathered_calls_when_half_the_connections_reset() -> None:
    count = 0
    lock = threading.Lock()

    def answer(request: bytes) -> bytes | None:
        nonlocal count
        with lock:
            count += 1
            odd = count % 2
        body = b'{"requestId": "r"}'
        head = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
        return None if odd else head + body

    with RawServer(answer) as server:
        async with sib.AsyncImageBuilderClient(
            region="us-east-1",
            credentials=CREDS,
            endpoint_url=f"http://127.0.0.1:{server.port}",
            retry_policy=NO_SLEEP,
            max_attempts=1,
            max_concurrency=500,
        ) as client:
            results = await asyncio.gather(
                *(client.get_image(ARN) for _ in range(1000)), return_exceptions=True
            )
    kinds = {type(r).__name__ for r in results}
    assert all(isinstance(r, (sib.GetImageResponse, sib.TransportError)) for r in results), kinds
