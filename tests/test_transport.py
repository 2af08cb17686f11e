"""The httpx adapter under abuse: real servers on 127.0.0.1 that misbehave on purpose.

Every case asserts the typed outcome and that no secret (secret key, session
token, signature, password) shows in the error, its repr, the DEBUG logs of
ours, httpx and httpcore, or the CLI's output.
"""

from __future__ import annotations

import io

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
