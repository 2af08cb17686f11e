"""The testing kit: the stand-in, record and replay, the pytest plugin, the demo."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ARN, CREDS, NO_SLEEP, SECRET, SESSION_TOKEN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import (
    NON_TERMINAL,
    TERMINAL,
    FixtureError,
    LocalImageBuilder,
    Recording,
    load_fixture,
    load_fixtures,
    record,
    replay,
)

OTHER = "arn:aws:imagebuilder:us-east-1:123456789012:image/other/2.0.0/7"


def client_for(
    server: LocalImageBuilder, creds: sib.Credentials = CREDS, **kw: object
) -> sib.ImageBuilderClient:
    return sib.ImageBuilderClient(
        region="us-east-1",
        credentials=creds,
        endpoint_url=server.endpoint_url,
        retry_policy=NO_SLEEP,
        **kw,
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("status", sorted(NON_TERMINAL))
def test_non_terminal_images_become_cancelled(status: str) -> None:
    with LocalImageBuilder(CREDS, region="us-east-1") as server, client_for(server) as client:
        server.add_image(ARN, status)
        resp = client.cancel_image_creation(ARN)
        assert server.image_status(ARN) == "CANCELLED"
    assert resp.image_build_version_arn == ARN and resp.request_id == resp.metadata.request_id


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_images_get_invalid_request(status: str) -> None:
    with LocalImageBuilder(CREDS, region="us-east-1") as server, client_for(server) as client:
        server.add_image(ARN, status)
        with pytest.raises(sib.InvalidRequestException, match=f"terminal state \\({status}\\)"):
            client.cancel_image_creation(ARN)
        assert server.image_status(ARN) == status


def test_unknown_arn_is_a_client_exception_and_idempotency() -> None:
    with LocalImageBuilder(CREDS, region="us-east-1") as server, client_for(server) as client:
        with pytest.raises(sib.ClientException, match="does not exist"):
            client.cancel_image_creation(ARN)
        server.add_image(ARN)
        server.add_image(OTHER)
        first = client.cancel_image_creation(ARN, client_token="same")
        again = client.cancel_image_creation(ARN, client_token="same")
        assert again.request_id == first.request_id
        with pytest.raises(sib.IdempotentParameterMismatchException):
            client.cancel_image_creation(OTHER, client_token="same")
        assert server.image_status(OTHER) == "BUILDING"
        assert (
            server.image_status("arn:aws:imagebuilder:us-east-1:123456789012:image/none/1.0.0/1")
            is None
        )


def test_stand_in_rejects_bad_signatures_and_old_dates() -> None:
    with LocalImageBuilder(CREDS, region="us-east-1") as server:
        server.add_image(ARN)
        wrong = sib.Credentials(
            CREDS.access_key_id, "wrong-secret", session_token=CREDS.session_token
        )
        with client_for(server, wrong) as client, pytest.raises(sib.ServiceError) as info:
            client.cancel_image_creation(ARN)
        assert (info.value.code, info.value.status_code) == ("InvalidSignatureException", 403)
        stranger = sib.Credentials("AKIDSTRANGER", "x")
        with client_for(server, stranger) as client, pytest.raises(sib.ServiceError) as info:
            client.cancel_image_creation(ARN)
        assert info.value.code == "UnrecognizedClientException"
        # Wrong region in the credential scope.
        with (
            sib.ImageBuilderClient(
                region="eu-west-1", credentials=CREDS, endpoint_url=server.endpoint_url
            ) as c,
            pytest.raises(sib.ServiceError, match="scoped"),
        ):
            c.cancel_image_creation(ARN)
        # A request signed 10 minutes ago (replayed) is refused as expired.
        import datetime

        from sigv4_imagebuilder._protocol import build_request, serialize_body
        from sigv4_imagebuilder._signing import sign

        old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
        signed = sign(
            build_request(server.endpoint_url, serialize_body(ARN, "t")),
            CREDS,
            region="us-east-1",
            now=old,
        )
        reply = httpx.put(signed.url, headers=list(signed.headers), content=signed.body)
        assert reply.status_code == 403 and "Signature expired" in reply.json()["message"]
        unsigned = httpx.put(server.endpoint_url + "/CancelImageCreation", content=b"{}")
        assert unsigned.headers["x-amzn-errortype"].startswith("IncompleteSignatureException")
        assert server.image_status(ARN) == "BUILDING"


def test_stand_in_rejects_bad_bodies_and_paths() -> None:
    from sigv4_imagebuilder._http import HttpRequest
    from sigv4_imagebuilder._protocol import host_header
    from sigv4_imagebuilder._signing import sign

    def send(server: LocalImageBuilder, path: str, body: bytes) -> httpx.Response:
        import datetime

        url = server.endpoint_url + path
        request = HttpRequest(
            method="PUT", url=url, headers=(("Host", host_header(url)),), body=body
        )
        signed = sign(
            request, CREDS, region="us-east-1", now=datetime.datetime.now(datetime.timezone.utc)
        )
        return httpx.put(url, headers=list(signed.headers), content=body)

    with LocalImageBuilder(CREDS, region="us-east-1") as server:
        assert send(server, "/Other", b"{}").status_code == 404
        for body in (
            b"nope",
            b"[]",
            b'{"imageBuildVersionArn": "x", "clientToken": "t"}',
            json.dumps({"imageBuildVersionArn": ARN}).encode(),
        ):
            reply = send(server, "/CancelImageCreation", body)
            assert reply.status_code == 400
            assert reply.headers["x-amzn-errortype"].startswith("InvalidRequestException")
    with pytest.raises(ValueError, match="not an image build version ARN"):
        LocalImageBuilder().add_image("arn:x")
    with pytest.raises(ValueError, match="unknown status"):
        LocalImageBuilder().add_image(ARN, "RUNNING")


async def test_stand_in_with_the_async_client() -> None:
    with LocalImageBuilder(CREDS, region="us-east-1") as server:
        server.add_image(ARN)
        async with sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url
        ) as client:
            results = await asyncio.gather(
                *(client.cancel_image_creation(ARN, client_token="t") for _ in range(5))
            )
    assert len({r.request_id for r in results}) == 1


def test_record_then_replay_gives_the_same_result_and_no_secret_survives(tmp_path: Path) -> None:
    out = tmp_path / "cancel.json"
    with (
        LocalImageBuilder(CREDS, region="us-east-1") as server,
        record(out, secrets=[SECRET]) as rec,
    ):
        server.add_image(ARN)
        with client_for(server) as client:
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
        client_for(server) as client,
        pytest.raises(sib.InvalidRequestException),
    ):
        client.cancel_image_creation(ARN)
    text = out.read_text()
    assert SECRET not in text and SESSION_TOKEN not in text and "a" * 64 not in text
    assert "<redacted>" in text


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
        with record(tmp_path / "retry.json"), client_for(server) as client:
            client.cancel_image_creation(ARN, client_token="k")
        fixture = load_fixture(tmp_path / "retry.json")
        assert [r.status for r in fixture.responses] == [503, 200]
        with replay(tmp_path / "retry.json"), client_for(server) as client:
            assert client.cancel_image_creation(ARN, client_token="k").metadata.retry_attempts == 1
        replies = iter([Reply(body=b'{"requestId": "a"}'), Reply(body=b'{"requestId": "b"}')])
        with record(tmp_path / "many"), client_for(server) as client:
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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "expected a JSON object"),
        ("{}", "needs 'response' or 'responses'"),
        ("{", "Expecting"),
        ('{"responses": []}', "non-empty list"),
        ('{"response": {"status": "x"}}', "integer 'status'"),
        ('{"response": {"status": 200, "headers": []}}', "'headers' must be an object"),
        ('{"response": {"status": 200, "body": 5}}', "'body' must be a string"),
        ('{"request": [], "response": {"status": 200}}', "'request' must be an object"),
    ],
)
def test_bad_fixture_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FixtureError, match=message):
        load_fixture(path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FixtureError, match=r"no \*\.json"):
        load_fixtures(empty)


def test_plugin_fixtures(
    local_imagebuilder: LocalImageBuilder, local_imagebuilder_client: sib.ImageBuilderClient
) -> None:
    local_imagebuilder.add_image(ARN)
    local_imagebuilder_client.cancel_image_creation(ARN)
    assert local_imagebuilder.image_status(ARN) == "CANCELLED"


def test_plugin_replay_fixture(imagebuilder_replay: object) -> None:
    from conftest import FIXTURES, TOKEN

    r = imagebuilder_replay(FIXTURES / "success.json")  # type: ignore[operator]
    resp = sib.ImageBuilderClient(region="us-east-1", credentials=CREDS).cancel_image_creation(
        ARN, client_token=TOKEN
    )
    assert resp.request_id == "5d8f3c1e-0a4b-4c7d-9e2f-1a2b3c4d5e6f" and len(r.calls) == 1


def test_plugin_is_registered_through_pytest11(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("sigv4_imagebuilder")


def test_demo_runs_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sigv4_imagebuilder.testing", "demo"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (
        '"imageBuildVersionArn": "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.0.0/1"'
        in done.stdout
    )
    assert ": BUILDING" in done.stdout and ": CANCELLED" in done.stdout and "stopped" in done.stdout


def _signed_get_image(endpoint: str, creds: sib.Credentials) -> httpx.Request:
    from urllib.parse import quote

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotocoreCredentials

    url = f"{endpoint}/GetImage?imageBuildVersionArn={quote(ARN, safe='')}"
    signing = AWSRequest(method="GET", url=url)
    SigV4Auth(
        BotocoreCredentials(creds.access_key_id, creds.secret_access_key),
        "imagebuilder",
        "us-east-1",
    ).add_auth(signing)
    return httpx.Request("GET", url, headers=dict(signing.headers.items()))


def test_serve_command_runs_until_interrupted(tmp_path: Path) -> None:
    import signal

    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sigv4_imagebuilder.testing",
            "serve",
            "--image",
            f"{ARN}=TESTING",
            "--region",
            "us-east-1",
            "--cancel-delay",
            "3600",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("LocalImageBuilder listening on http://127.0.0.1:")
            endpoint = line.rsplit(" ", 1)[-1].strip()
            creds = sib.Credentials("AKIDLOCALSTANDIN", "local-stand-in-secret")
            with sib.ImageBuilderClient(
                region="us-east-1", credentials=creds, endpoint_url=endpoint
            ) as client:
                assert client.cancel_image_creation(ARN).image_build_version_arn == ARN
            # The cancel is accepted but takes an hour: GetImage still says TESTING.
            request = _signed_get_image(endpoint, creds)
            with httpx.Client() as http:
                state = http.send(request).json()["image"]["state"]
            assert state == {"status": "TESTING"}
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
    bad = subprocess.run(
        [sys.executable, "-m", "sigv4_imagebuilder.testing", "serve", "--image", "arn:x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "not an image build version ARN" in bad.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "sigv4_imagebuilder.testing", "serve", "--image", f"{ARN}=NOPE"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "unknown status" in bad.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "sigv4_imagebuilder.testing", "serve", "--image", ARN,
         "--cancel-delay", "-5"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "cancel_delay" in bad.stderr


def test_testing_all_is_sorted_and_exact() -> None:
    import sigv4_imagebuilder.testing as kit

    assert kit.__all__ == sorted(kit.__all__)
    assert set(kit.__all__) == {
        "DEFAULT_CREDENTIALS",
        "NON_TERMINAL",
        "TERMINAL",
        "Fixture",
        "FixtureError",
        "FixtureResponse",
        "LocalImageBuilder",
        "LoopbackServer",
        "ReceivedRequest",
        "Recording",
        "Replay",
        "ReplayMismatch",
        "Reply",
        "SignatureProblem",
        "load_fixture",
        "load_fixtures",
        "record",
        "replay",
        "verify_request_signature",
        "verify_signature",
    }
    for name in kit.__all__:
        assert getattr(kit, name) is not None


def test_plugin_fixtures_serve_get_image(local_imagebuilder: LocalImageBuilder) -> None:
    """The plugin's stand-in answers GetImage for any SDK; here botocore's."""
    import botocore.session

    from sigv4_imagebuilder.testing import DEFAULT_CREDENTIALS

    local_imagebuilder.add_image(ARN, "BUILDING", cancel_delay=3600)
    boto = botocore.session.get_session().create_client(
        "imagebuilder",
        region_name="us-east-1",
        endpoint_url=local_imagebuilder.endpoint_url,
        aws_access_key_id=DEFAULT_CREDENTIALS.access_key_id,
        aws_secret_access_key=DEFAULT_CREDENTIALS.secret_access_key,
    )
    boto.cancel_image_creation(imageBuildVersionArn=ARN)
    assert boto.get_image(imageBuildVersionArn=ARN)["image"]["state"]["status"] == "BUILDING"
    local_imagebuilder.set_image_status(ARN, "CANCELLED")
    assert boto.get_image(imageBuildVersionArn=ARN)["image"]["state"]["status"] == "CANCELLED"


def test_plugin_replay_fixture_plays_get_image(imagebuilder_replay: object) -> None:
    from conftest import FIXTURES

    r = imagebuilder_replay(FIXTURES / "get_image" / "available.json")  # type: ignore[operator]
    with httpx.Client() as http:
        got = http.get(
            "https://imagebuilder.us-east-1.amazonaws.com/GetImage",
            params={"imageBuildVersionArn": ARN},
        )
    assert got.json()["image"]["outputResources"]["amis"][0]["image"].startswith("ami-")
    assert len(r.calls) == 1
