"""record(): any operation, compressed replies, transports, and patches that always come off."""

from __future__ import annotations

import gzip
import json
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from conftest import ARN, CREDS, NO_SLEEP, PLAIN_CREDS, SECRET, SESSION_TOKEN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import (
    LocalImageBuilder,
    LoopbackServer,
    ReceivedRequest,
    Recording,
    ReplayMismatch,
    Reply,
    load_fixture,
    load_fixtures,
    record,
    replay,
)

ORIGINAL_SEND = httpx.Client.send
ORIGINAL_ASEND = httpx.AsyncClient.send
OK_BODY = {"requestId": "r-1", "clientToken": "tok-g", "imageBuildVersionArn": ARN}


def client_for(url: str, **kw: Any) -> sib.ImageBuilderClient:
    return sib.ImageBuilderClient(
        region="us-east-1", credentials=CREDS, endpoint_url=url, retry_policy=NO_SLEEP, **kw
    )


def get_image_request(url: str, arn: str, service: str = "imagebuilder") -> httpx.Request:
    """A GetImage request signed by botocore's SigV4Auth (not by this library)."""
    full = f"{url}/GetImage?imageBuildVersionArn={quote(arn, safe='')}"
    signing = AWSRequest(method="GET", url=full)
    SigV4Auth(
        BotocoreCredentials(
            PLAIN_CREDS.access_key_id, PLAIN_CREDS.secret_access_key, SESSION_TOKEN
        ),
        service,
        "us-east-1",
    ).add_auth(signing)
    return httpx.Request("GET", full, headers=dict(signing.headers.items()))


def gzipped(request: ReceivedRequest) -> Reply:
    return Reply(
        headers=[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("x-amzn-RequestId", "r-1"),
        ],
        body=gzip.compress(json.dumps(OK_BODY).encode()),
    )


@pytest.mark.parametrize("way", ["patch", "transport"])
def test_a_gzipped_reply_replays_as_it_was_read(tmp_path: Path, way: str) -> None:
    out = tmp_path / "gz.json"
    with LoopbackServer(gzipped) as server:
        if way == "patch":
            with record(out), client_for(server.endpoint_url) as client:
                live = client.cancel_image_creation(ARN, client_token="tok-g")
        else:
            with (
                record(out, patch_httpx=False) as rec,
                httpx.Client(transport=rec.transport()) as http,
                client_for(server.endpoint_url, http_client=http) as client,
            ):
                live = client.cancel_image_creation(ARN, client_token="tok-g")
    stored = load_fixture(out).responses[0]
    names = {k.lower() for k in stored.headers}
    assert {"content-type", "x-amzn-requestid"} <= names
    assert not names & {"content-encoding", "content-length", "transfer-encoding"}
    assert json.loads(stored.body) == OK_BODY
    with replay(out), client_for("https://example.invalid") as client:
        again = client.cancel_image_creation(ARN, client_token="tok-g")
    assert (again.request_id, again.client_token, again.image_build_version_arn) == (
        live.request_id,
        live.client_token,
        live.image_build_version_arn,
    )


def test_a_reply_that_lies_about_its_encoding_replays_the_same_failure(tmp_path: Path) -> None:
    def liar(request: ReceivedRequest) -> Reply:
        return Reply(headers=[("Content-Encoding", "gzip")], body=b"not gzip at all")

    out = tmp_path / "liar.json"
    with (
        LoopbackServer(liar) as server,
        record(out, patch_httpx=False) as rec,
        httpx.Client(transport=rec.transport()) as http,
        client_for(server.endpoint_url, http_client=http, max_attempts=1) as client,
        pytest.raises(sib.TransportError) as live,
    ):
        client.cancel_image_creation(ARN, client_token="tok-l")
    assert load_fixture(out).responses[0].headers["content-encoding"] == "gzip"
    with (
        replay(out),
        client_for("https://example.invalid", max_attempts=1) as client,
        pytest.raises(sib.TransportError) as again,
    ):
        client.cancel_image_creation(ARN, client_token="tok-l")
    assert type(again.value) is type(live.value) and "Decod" in str(again.value)


def test_get_image_is_recorded_with_its_query_and_replayed_by_it(tmp_path: Path) -> None:
    arn = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.0.0/3"
    out = tmp_path / "get.json"
    temporary = sib.Credentials(
        PLAIN_CREDS.access_key_id, PLAIN_CREDS.secret_access_key, session_token=SESSION_TOKEN
    )
    with (
        LocalImageBuilder(temporary, region="us-east-1") as server,
        record(out, patch_httpx=False) as rec,
        httpx.Client(transport=rec.transport()) as http,
    ):
        server.add_image(arn, "AVAILABLE")
        live = http.send(get_image_request(server.endpoint_url, arn))
    assert live.status_code == 200
    text = out.read_text()
    for secret in (SESSION_TOKEN, PLAIN_CREDS.secret_access_key, "Signature=", "X-Amz-Date"):
        assert secret not in text
    fixture = load_fixture(out)
    assert fixture.request == {
        "method": "GET",
        "path": "/GetImage",
        "query": {"imageBuildVersionArn": arn},
    }
    assert json.loads(fixture.responses[0].body) == live.json()
    with replay(out) as r, httpx.Client() as http:
        again = http.get(f"https://imagebuilder.us-east-1.amazonaws.com/GetImage?imageBuildVersionArn={quote(arn, safe='')}")  # fmt: skip
    assert again.json() == live.json() and len(r.calls) == 1
    other = arn.replace("/3", "/4")
    with (
        pytest.raises(ReplayMismatch, match=r"query imageBuildVersionArn is '.*/4', fixture has"),
        replay(out, assert_all_played=False),
        httpx.Client() as http,
    ):
        http.get("https://x.invalid/GetImage", params={"imageBuildVersionArn": other})


async def test_the_async_transport_records_too(tmp_path: Path) -> None:
    out = tmp_path / "async.json"
    with LoopbackServer(gzipped) as server, record(out, patch_httpx=False) as rec:
        async with (
            httpx.AsyncClient(transport=rec.async_transport()) as http,
            sib.AsyncImageBuilderClient(
                region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url,
                http_client=http,
            ) as client,
        ):  # fmt: skip
            live = await client.cancel_image_creation(ARN, client_token="tok-g")
        assert httpx.AsyncClient.send is ORIGINAL_ASEND  # nothing patched
    assert live.request_id == "r-1"
    assert json.loads(load_fixture(out).responses[0].body) == OK_BODY


def test_only_requests_signed_for_imagebuilder_are_kept(tmp_path: Path) -> None:
    with (
        LoopbackServer(gzipped) as server,
        record(tmp_path / "calls") as rec,
        httpx.Client(transport=rec.transport()) as via_transport,
        httpx.Client() as plain,
    ):
        plain.get(server.endpoint_url + "/latest/meta-data/")  # unsigned (IMDS-like)
        plain.send(get_image_request(server.endpoint_url, ARN, service="sts"))
        plain.send(get_image_request(server.endpoint_url, ARN))
        # Through the recording transport AND the patch: kept once.
        via_transport.send(get_image_request(server.endpoint_url, ARN))
    assert len(rec.calls) == 2
    assert [p.name for p in sorted((tmp_path / "calls").iterdir())] == [
        "001_200.json",
        "002_200.json",
    ]


def test_overlapping_blocks_restore_httpx_in_any_order(tmp_path: Path) -> None:
    with LoopbackServer(gzipped) as server, client_for(server.endpoint_url) as client:
        a, b = record(tmp_path / "a"), record(tmp_path / "b")
        rec_a = a.__enter__()
        rec_b = b.__enter__()
        client.cancel_image_creation(ARN, client_token="both")
        a.__exit__(None, None, None)  # A leaves first: B must keep recording
        assert httpx.Client.send is not ORIGINAL_SEND
        client.cancel_image_creation(ARN, client_token="only-b")
        b.__exit__(None, None, None)
        assert httpx.Client.send is ORIGINAL_SEND and httpx.AsyncClient.send is ORIGINAL_ASEND
        client.cancel_image_creation(ARN, client_token="none")
    tokens_a = [json.loads(c[0][0].content)["clientToken"] for c in rec_a.calls.values()]
    tokens_b = [json.loads(c[0][0].content)["clientToken"] for c in rec_b.calls.values()]
    assert tokens_a == ["both"] and tokens_b == ["both", "only-b"]


def test_a_patch_laid_over_ours_is_left_alone(tmp_path: Path) -> None:
    calls: list[str] = []
    with LoopbackServer(gzipped) as server, client_for(server.endpoint_url) as client:
        with record(tmp_path / "r") as rec:
            ours = httpx.Client.send

            def theirs(self: httpx.Client, request: httpx.Request, **kw: Any) -> httpx.Response:
                calls.append("theirs")
                return ours(self, request, **kw)

            httpx.Client.send = theirs  # type: ignore[method-assign]
        try:
            assert httpx.Client.send is theirs  # not clobbered on exit
            client.cancel_image_creation(ARN, client_token="after")
        finally:
            httpx.Client.send = ORIGINAL_SEND  # type: ignore[method-assign]
    assert calls == ["theirs"] and rec.calls == {}  # our leftover wrapper records nothing


def test_blocks_interleaved_across_threads_restore_httpx(tmp_path: Path) -> None:
    entered = threading.Barrier(8)
    errors: list[BaseException] = []
    recordings: list[Any] = []

    def worker(index: int, url: str) -> None:
        try:
            with record(tmp_path / f"t{index}") as rec, client_for(url) as client:
                recordings.append(rec)
                entered.wait(timeout=10)  # every block is open at once
                client.cancel_image_creation(ARN, client_token=f"thread-{index}")
                # Leave in a different order than entered.
                threading.Event().wait(0.001 * ((index * 5) % 8))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with LoopbackServer(gzipped) as server:
        threads = [threading.Thread(target=worker, args=(i, server.endpoint_url)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert errors == []
    assert httpx.Client.send is ORIGINAL_SEND and httpx.AsyncClient.send is ORIGINAL_ASEND
    for rec in recordings:  # each saw at least its own call, each call once
        assert len(rec.calls) >= 1
        assert all(len(attempts) == 1 for attempts in rec.calls.values())


def test_an_exception_in_the_block_unpatches_and_writes_nothing(tmp_path: Path) -> None:
    with ExitStack() as stack, LoopbackServer(gzipped) as server:
        stack.enter_context(pytest.raises(RuntimeError))
        stack.enter_context(record(tmp_path / "boom.json"))
        with client_for(server.endpoint_url) as client:
            client.cancel_image_creation(ARN, client_token="tok-b")
        raise RuntimeError("the test failed")
    assert httpx.Client.send is ORIGINAL_SEND
    assert not (tmp_path / "boom.json").exists()  # a failed block writes nothing


def test_secrets_in_a_get_query_are_scrubbed(tmp_path: Path) -> None:
    def echo(request: ReceivedRequest) -> Reply:
        return Reply(body=json.dumps({"requestId": "r", "echo": request.query}).encode())

    out = tmp_path / "q.json"
    with LoopbackServer(echo) as server, record(out, secrets=[SECRET]), httpx.Client() as http:
        request = get_image_request(server.endpoint_url, f"{ARN}{SECRET}")
        http.send(request)
    text = out.read_text()
    # In the query (decoded) and echoed back percent-encoded in the body.
    assert SECRET not in text and quote(SECRET, safe="") not in text
    assert "<redacted>" in load_fixture(out).request["query"]["imageBuildVersionArn"]
    assert "<redacted>" in load_fixture(out).responses[0].body.decode()


def test_record_then_replay_gives_the_same_result_and_no_secret_survives(tmp_path: Path) -> None:
    out = tmp_path / "cancel.json"
    with (
        LocalImageBuilder(CREDS, region="us-east-1") as server,
        record(out, secrets=[SECRET]) as rec,
    ):
        server.add_image(ARN)
        with client_for(server.endpoint_url) as client:
            live = client.cancel_image_creation(ARN, client_token="tok-r")
    assert isinstance(rec, Recording) and len(rec.calls) == 1
    text = out.read_text()
    for secret in (
        SECRET,
        SESSION_TOKEN,
        "Signature=",
        "AWS4-HMAC-SHA256",
        "X-Amz-Date",
        "x-amz-date",
    ):
        assert secret not in text
    fixture = load_fixture(out)
    assert fixture.expected_body == {"imageBuildVersionArn": ARN, "clientToken": "tok-r"}
    with (
        replay(out) as r,
        sib.ImageBuilderClient(region="us-west-2", credentials=sib.Credentials("A", "B")) as client,
    ):
        again = client.cancel_image_creation(ARN, client_token="tok-r")
    assert (again.request_id, again.client_token, again.image_build_version_arn) == (
        live.request_id,
        live.client_token,
        live.image_build_version_arn,
    )
    assert len(r.calls) == 1


def test_record_scrubs_secrets_echoed_by_a_server(tmp_path: Path) -> None:
    from sigv4_imagebuilder.testing import LoopbackServer, Reply

    def leaky(request: object) -> Reply:
        return Reply(
            status=400,
            headers=[
                ("x-amzn-ErrorType", "InvalidRequestException"),
                ("x-echo", f"token={SESSION_TOKEN}"),
            ],
            body=json.dumps({"message": f"bad secret {SECRET} Signature={'a' * 64}"}).encode(),
        )

    out = tmp_path / "leak.json"
    with (
        LoopbackServer(leaky) as server,
        record(out, secrets=[SECRET]),
        client_for(server.endpoint_url) as client,
        pytest.raises(sib.InvalidRequestException),
    ):
        client.cancel_image_creation(ARN)
    text = out.read_text()
    assert SECRET not in text and SESSION_TOKEN not in text and "a" * 64 not in text
    assert "<redacted>" in text


def _escaped_everywhere(text: str) -> str:
    """``text`` JSON-escaped the way a hostile server may: every character as ``\\uXXXX``."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


@pytest.mark.parametrize("way", ["patch", "transport"])
def test_record_scrubs_echoed_signatures_and_escaped_tokens(tmp_path: Path, way: str) -> None:
    # A server that echoes each request's signature bare (no "Signature="),
    # upper-cased in a header, and the session token JSON-escaped ("\/" and
    # "\uXXXX"): the text scrub saw none of them, the parsed JSON kept them.
    sent: list[str] = []

    def echo(request: ReceivedRequest) -> Reply:
        auth = dict((k.lower(), v) for k, v in request.headers)["authorization"]
        signature = auth.rsplit("Signature=", 1)[1]
        sent.append(signature)
        token_slashes = SESSION_TOKEN.replace("/", "\\/")
        body = (
            f'{{"requestId": "r", "sig": "{signature}", "tok": "{token_slashes}", '
            f'"tok2": "{_escaped_everywhere(SESSION_TOKEN)}", '
            f'"{_escaped_everywhere(SECRET)}": ["{signature.upper()}"]}}'
        )
        status = 500 if len(sent) == 1 else 400
        return Reply(
            status=status,
            headers=[
                ("x-amzn-ErrorType", "ServiceException" if status == 500 else "ClientException"),
                ("x-echo-sig", signature.upper()),
            ],
            body=body.encode(),
        )

    out = tmp_path / "echo.json"
    with ExitStack() as stack:
        server = stack.enter_context(LoopbackServer(echo))
        recording = stack.enter_context(record(out, secrets=[SECRET], patch_httpx=way == "patch"))
        kwargs: dict[str, Any] = {}
        if way == "transport":
            kwargs["http_client"] = stack.enter_context(
                httpx.Client(transport=recording.transport())
            )
        client = stack.enter_context(client_for(server.endpoint_url, **kwargs))
        with pytest.raises(sib.ClientException):
            client.get_image(ARN)
    text = out.read_text()
    data = json.loads(text)
    assert len(sent) == 2 and len(data["responses"]) == 2
    for signature in sent:
        assert signature not in text.lower()
    for secret in (SECRET, SESSION_TOKEN):
        assert secret not in text
        assert secret.replace("/", "\\/") not in text
        assert json.dumps(secret) not in text
    assert data["responses"][1]["json"] == {
        "requestId": "r",
        "sig": "<redacted>",
        "tok": "<redacted>",
        "tok2": "<redacted>",
        "<redacted>": ["<redacted>"],
    }
    assert data["responses"][1]["headers"]["x-echo-sig"] == "<redacted>"


def test_record_retries_as_responses_and_several_calls_as_a_directory(tmp_path: Path) -> None:
    from sigv4_imagebuilder.testing import LoopbackServer, Reply

    replies = iter(
        [
            Reply(status=503, headers=[("x-amzn-ErrorType", "ServiceUnavailableException")]),
            Reply(body=b'{"requestId": "r2"}'),
            Reply(body=b'{"requestId": "r3"}'),
        ]
    )
    with LoopbackServer(lambda r: next(replies)) as server:
        with record(tmp_path / "retry.json"), client_for(server.endpoint_url) as client:
            client.cancel_image_creation(ARN, client_token="k")
        fixture = load_fixture(tmp_path / "retry.json")
        assert [r.status for r in fixture.responses] == [503, 200]
        with replay(tmp_path / "retry.json"), client_for(server.endpoint_url) as client:
            assert client.cancel_image_creation(ARN, client_token="k").metadata.retry_attempts == 1
        replies = iter([Reply(body=b'{"requestId": "a"}'), Reply(body=b'{"requestId": "b"}')])
        with record(tmp_path / "many"), client_for(server.endpoint_url) as client:
            client.cancel_image_creation(ARN)
            client.cancel_image_creation(ARN)
    names = sorted(p.name for p in (tmp_path / "many").iterdir())
    assert names == ["001_200.json", "002_200.json"]
    assert [f.responses[0].body for f in load_fixtures(tmp_path / "many")] == [
        b'{"requestId": "a"}',
        b'{"requestId": "b"}',
    ]


async def test_record_async_client(tmp_path: Path) -> None:
    with LocalImageBuilder(CREDS, region="us-east-1") as server, record(tmp_path / "a.json"):
        server.add_image(ARN)
        async with sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url
        ) as client:
            await client.cancel_image_creation(ARN)
    assert load_fixture(tmp_path / "a.json").responses[0].status == 200


def test_record_with_no_calls_writes_nothing(tmp_path: Path) -> None:
    with record(tmp_path / "nothing.json") as rec:
        pass
    assert rec.calls == {} and not (tmp_path / "nothing.json").exists()


def test_query_authentication_and_streamed_bodies_are_not_kept(tmp_path: Path) -> None:
    out = tmp_path / "q.json"
    with (
        LoopbackServer(gzipped) as server,
        record(out, patch_httpx=False) as rec,
        httpx.Client(transport=rec.transport()) as http,
    ):
        request = get_image_request(server.endpoint_url, ARN)
        signature = "ab" * 32
        request.url = request.url.copy_merge_params(
            {"X-Amz-Signature": signature, "X-Amz-Security-Token": "tok", "keep": "me"}
        )
        http.send(request)
    fixture = load_fixture(out)
    assert fixture.expected_query == {"imageBuildVersionArn": [ARN], "keep": ["me"]}
    assert signature not in out.read_text()

    def chunks() -> Any:
        yield b'{"a": 1}'

    with (
        LoopbackServer(gzipped) as server,
        record(tmp_path / "s.json"),
        httpx.Client() as http,
    ):
        streamed = get_image_request(server.endpoint_url, ARN)
        http.send(httpx.Request("PUT", streamed.url, headers=streamed.headers, content=chunks()))
    assert "json" not in load_fixture(tmp_path / "s.json").request


def test_repeated_query_parameters_and_raw_bodies_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "raw.json"
    with (
        LoopbackServer(gzipped) as server,
        record(out, patch_httpx=False) as rec,
        httpx.Client(transport=rec.transport()) as http,
    ):
        signed = get_image_request(server.endpoint_url, ARN)
        url = signed.url.copy_with(query=b"a=1&a=2&a=3&b=")
        http.send(httpx.Request("POST", url, headers=signed.headers, content=b"k=v"))
    fixture = load_fixture(out)
    assert fixture.request["query"] == {"a": ["1", "2", "3"], "b": ""}
    assert fixture.request["body"] == "k=v"
    with replay(out), httpx.Client() as http:
        again = http.post(f"{server.endpoint_url}/GetImage?a=1&a=2&a=3&b=", content=b"k=v")
    assert again.json() == OK_BODY
