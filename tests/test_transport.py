"""The httpx adapter under abuse: real servers on 127.0.0.1 that misbehave on purpose.

Every case asserts the typed outcome and that no secret (secret key, session
token, signature, password) shows in the error, its repr, the DEBUG logs of
ours, httpx and httpcore, or the CLI's output.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ARN, CREDS
from hostile import assert_no_secrets, capture_everything, outcome, signatures

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._cli import main
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

def peak_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

url, mode = sys.argv[1], sys.argv[2]
kwargs = dict(region="us-east-1", credentials=sib.Credentials("AKID", "secret"),
              endpoint_url=url, max_attempts=1)
before = peak_mib()
try:
    if mode == "sync":
        with sib.ImageBuilderClient(**kwargs) as client:
            client.cancel_image_creation(
                "arn:aws:imagebuilder:us-east-1:123456789012:image/x/1.0.0/1")
    else:
        async def go():
            async with sib.AsyncImageBuilderClient(**kwargs) as client:
                await client.cancel_image_creation(
                    "arn:aws:imagebuilder:us-east-1:123456789012:image/x/1.0.0/1")
        asyncio.run(go())
    name, status = "success", None
except sib.ImageBuilderError as exc:
    name, status = type(exc).__name__, getattr(exc, "status_code", None)
print(json.dumps({"error": name, "status": status, "growth_mib": peak_mib() - before}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
@modes
@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [
        ("gzip", 200, "ResponseParseError"),
        ("gzip", 503, "ServiceError"),
        ("plain", 200, "ResponseParseError"),
        ("plain", 500, "ServiceError"),
    ],
)
def test_huge_and_compressed_replies_are_read_within_a_bound(
    mode: str, kind: str, status: int, error: str
) -> None:
    if kind == "gzip":
        reply = Reply(
            status=status,
            headers=[("Content-Encoding", "gzip"), ("Content-Type", "application/json")],
            chunks=bomb_chunks,
        )
    else:
        reply = Reply(
            status=status,
            headers=[("Content-Length", str(512 * _MIB))],
            chunks=plain_chunks,
        )
    with LoopbackServer(lambda request: reply) as server:
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, server.endpoint_url, mode],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    assert (result["error"], result["status"]) == (error, status)
    assert result["growth_mib"] < 200, result
