"""LocalImageBuilder: the cancel rules, GetImage (checked with botocore), the asynchronous cancel, bounds.

GetImage is exercised with botocore's own client (a client nobody here wrote)
and with raw signed requests, never with this library's code, so the stand-in
is checked against the service's wire format rather than against the client.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import botocore.session
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from conftest import ARN, CREDS, NO_SLEEP, PLAIN_CREDS, SECRET, SESSION_TOKEN
from imagebuilder_model import imagebuilder_model, needs_current_model

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import (
    NON_TERMINAL,
    TERMINAL,
    LocalImageBuilder,
    ReplayMismatch,
    load_fixture,
    record,
    replay,
)

PREFIX = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe"
OTHER = "arn:aws:imagebuilder:us-east-1:123456789012:image/other/2.0.0/7"
STATUSES = sorted(NON_TERMINAL | TERMINAL)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


_SESSIONS: list[Any] = []


def boto(server: LocalImageBuilder, creds: sib.Credentials = PLAIN_CREDS) -> Any:
    """botocore's imagebuilder client pointed at the stand-in (no retries: errors show)."""
    from botocore.config import Config

    if not _SESSIONS:  # one session: it loads the service model once
        _SESSIONS.append(botocore.session.get_session())
    return _SESSIONS[0].create_client(
        "imagebuilder",
        region_name="us-east-1",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
        config=Config(retries={"total_max_attempts": 1}),
    )


def signed_get(
    server: LocalImageBuilder,
    query: str,
    creds: sib.Credentials = PLAIN_CREDS,
    *,
    path: str = "/GetImage",
    method: str = "GET",
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A request signed by botocore's SigV4Auth, sent by httpx with exactly that query."""
    url = f"{server.endpoint_url}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, headers=dict(extra_headers or {}))
    SigV4Auth(
        BotocoreCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
        "imagebuilder",
        "us-east-1",
    ).add_auth(request)
    with httpx.Client(verify=False) as http:  # plain http: skip loading CA certificates
        return http.request(method, url, headers=dict(request.headers.items()))


def cancel_client(
    server: LocalImageBuilder, creds: sib.Credentials = CREDS, **kw: Any
) -> sib.ImageBuilderClient:
    """This library's client pointed at the stand-in, for the cancel rules."""
    return sib.ImageBuilderClient(
        region="us-east-1",
        credentials=creds,
        endpoint_url=server.endpoint_url,
        retry_policy=NO_SLEEP,
        **kw,
    )


@pytest.fixture
def server() -> Iterator[LocalImageBuilder]:
    with LocalImageBuilder(PLAIN_CREDS, region="us-east-1") as s:
        yield s


@needs_current_model
def test_botocore_get_image_parses_every_status(server: LocalImageBuilder) -> None:
    client = boto(server)
    for build, status in enumerate(STATUSES, start=1):
        arn = f"{PREFIX}/1.0.0/{build}"
        server.add_image(arn, status, tags={"team": "builds"})
        reply = client.get_image(imageBuildVersionArn=arn)
        image = reply["image"]
        assert reply["requestId"] == reply["ResponseMetadata"]["RequestId"]
        assert image["arn"] == arn and image["name"] == "demo-recipe"
        assert (image["version"], image["type"]) == (f"1.0.0/{build}", "AMI")
        assert image["platform"] == "Linux" and image["state"] == {"status": status}
        assert image["buildType"] == "USER_INITIATED" and image["tags"] == {"team": "builds"}
        assert image["imageRecipe"]["version"] == "1.0.0"
        datetime.datetime.strptime(image["dateCreated"], "%Y-%m-%dT%H:%M:%S.%fZ")
        amis = image["outputResources"].get("amis", [])
        if status in {"AVAILABLE", "DEPRECATED", "DISABLED"}:
            assert len(amis) == 1 and amis[0]["image"].startswith("ami-"), status
            assert (amis[0]["region"], amis[0]["accountId"]) == ("us-east-1", "123456789012")
            assert amis[0]["state"] == {"status": "AVAILABLE"}
        else:
            assert amis == [], status
        assert reply["latestVersionReferences"]["latestPatchVersionArn"] == arn


@needs_current_model
def test_get_image_reply_matches_the_service_model_shapes(server: LocalImageBuilder) -> None:
    """Every member the stand-in sends is one the service model declares, with its type."""
    shapes = imagebuilder_model()["shapes"]
    kinds = {"string": str, "boolean": bool, "integer": int, "map": dict, "list": list}

    def check(value: Any, shape_name: str, where: str) -> None:
        shape = shapes[shape_name]
        if shape["type"] == "structure":
            assert isinstance(value, dict), where
            for key, member in value.items():
                assert key in shape["members"], f"{where}.{key} is not in the model"
                check(member, shape["members"][key]["shape"], f"{where}.{key}")
        elif shape["type"] == "list":
            assert isinstance(value, list), where
            for i, item in enumerate(value):
                check(item, shape["member"]["shape"], f"{where}[{i}]")
        else:
            assert isinstance(value, kinds[shape["type"]]), where
            if "enum" in shape:
                assert value in shape["enum"], where

    server.add_image(f"{PREFIX}/1.0.0/3", "AVAILABLE", tags={"a": "b"})
    server.add_image(f"{PREFIX}/1.0.0/4", "FAILED")
    server.set_image_status(f"{PREFIX}/1.0.0/4", "FAILED", "Step 'build' failed.")
    for arn in (f"{PREFIX}/1.0.0/3", f"{PREFIX}/1.0.0/4"):
        reply = signed_get(server, "imageBuildVersionArn=" + quote(arn, safe=""))
        assert reply.status_code == 200, reply.text
        check(reply.json(), "GetImageResponse", "GetImageResponse")
    assert reply.json()["image"]["state"] == {"status": "FAILED", "reason": "Step 'build' failed."}


def test_botocore_cancel_then_get_with_a_cancel_delay() -> None:
    clock = FakeClock()
    arn = f"{PREFIX}/1.0.0/3"
    with LocalImageBuilder(PLAIN_CREDS, region="us-east-1", clock=clock) as server:
        server.add_image(arn, "BUILDING", cancel_delay=30)
        client = boto(server)
        first = client.cancel_image_creation(imageBuildVersionArn=arn)
        assert first["imageBuildVersionArn"] == arn and len(first["clientToken"]) == 36
        # Accepted, not yet done: the build is still stopping.
        assert client.get_image(imageBuildVersionArn=arn)["image"]["state"]["status"] == "BUILDING"
        assert server.image_status(arn) == "BUILDING"
        clock.now += 20
        # Still non-terminal: a second cancel is accepted and does not restart the delay.
        second = client.cancel_image_creation(imageBuildVersionArn=arn)
        assert second["requestId"] != first["requestId"]
        clock.now += 10
        state = client.get_image(imageBuildVersionArn=arn)["image"]["state"]
        assert state == {"status": "CANCELLED"} and server.image_status(arn) == "CANCELLED"
        # Now terminal: a third cancel is refused.
        with pytest.raises(client.exceptions.InvalidRequestException):
            client.cancel_image_creation(imageBuildVersionArn=arn)
        # Every request above passed the stand-in's signature check.
        assert [r.path for r in server.requests] == [
            "/CancelImageCreation", "/GetImage", "/CancelImageCreation", "/GetImage",
            "/CancelImageCreation",
        ]  # fmt: skip


def test_the_library_client_cancels_with_a_delay_too() -> None:
    clock = FakeClock()
    with (
        LocalImageBuilder(CREDS, region="us-east-1", clock=clock) as server,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url
        ) as client,
    ):
        server.add_image(ARN, "TESTING", cancel_delay=5)
        client.cancel_image_creation(ARN)
        assert server.image_status(ARN) == "TESTING"
        clock.now += 5
        assert server.image_status(ARN) == "CANCELLED"


def test_set_image_status_drives_any_transition_and_drops_a_pending_cancel() -> None:
    clock = FakeClock()
    arn = f"{PREFIX}/1.0.0/3"
    with LocalImageBuilder(PLAIN_CREDS, region="us-east-1", clock=clock) as server:
        server.add_image(arn, "BUILDING", cancel_delay=10)
        client = boto(server)
        client.cancel_image_creation(imageBuildVersionArn=arn)
        server.set_image_status(arn, "AVAILABLE")  # the cancel lost the race
        clock.now += 60
        image = client.get_image(imageBuildVersionArn=arn)["image"]
        assert image["state"] == {"status": "AVAILABLE"} and image["outputResources"]["amis"]
        for status in ("DEPRECATED", "DISABLED", "DELETED", "PENDING"):
            server.set_image_status(arn, status, f"moved to {status}")
            state = client.get_image(imageBuildVersionArn=arn)["image"]["state"]
            assert state == {"status": status, "reason": f"moved to {status}"}
    with pytest.raises(ValueError, match="unknown image"):
        server.set_image_status(f"{PREFIX}/9.9.9/9", "FAILED")
    with pytest.raises(ValueError, match="unknown status"):
        server.set_image_status(arn, "STOPPED")
    for reason in ("", "x" * 1025, 5):
        with pytest.raises(ValueError, match="reason"):
            server.set_image_status(arn, "FAILED", reason)  # type: ignore[arg-type]


@pytest.mark.parametrize("delay", [-1, float("nan"), float("inf"), "5", True])
def test_add_image_refuses_bad_delays(delay: object) -> None:
    with pytest.raises(ValueError, match="cancel_delay"):
        LocalImageBuilder().add_image(ARN, cancel_delay=delay)  # type: ignore[arg-type]


@needs_current_model
def test_version_arns_with_wildcards_resolve_to_the_latest_build(
    server: LocalImageBuilder,
) -> None:
    for version in ("1.0.0/1", "1.0.0/2", "1.2.0/1", "1.10.3/1", "2.0.0/7"):
        server.add_image(f"{PREFIX}/{version}", "AVAILABLE")
    # Same name, another account: never mixed in.
    server.add_image(
        "arn:aws:imagebuilder:us-east-1:210987654321:image/demo-recipe/9.0.0/1", "AVAILABLE"
    )
    client = boto(server)
    for wanted, found in [
        ("1.0.0", "1.0.0/2"),
        ("1.x.x", "1.10.3/1"),
        ("1.2.x", "1.2.0/1"),
        ("x.x.x", "2.0.0/7"),
        ("x.0.0", "2.0.0/7"),
        ("2.0.0/7", "2.0.0/7"),
    ]:
        reply = client.get_image(imageBuildVersionArn=f"{PREFIX}/{wanted}")
        assert reply["image"]["arn"] == f"{PREFIX}/{found}", wanted
    refs = client.get_image(imageBuildVersionArn=f"{PREFIX}/1.0.0/1")["latestVersionReferences"]
    assert refs == {
        "latestVersionArn": f"{PREFIX}/2.0.0/7",
        "latestMajorVersionArn": f"{PREFIX}/1.10.3/1",
        "latestMinorVersionArn": f"{PREFIX}/1.0.0/2",
        "latestPatchVersionArn": f"{PREFIX}/1.0.0/2",
    }
    for missing in ("3.x.x", "1.0.0/3", "1.1.x"):
        with pytest.raises(client.exceptions.ClientException, match="does not exist"):
            client.get_image(imageBuildVersionArn=f"{PREFIX}/{missing}")


def test_get_image_errors_are_modeled_and_typed(server: LocalImageBuilder) -> None:
    client = boto(server)
    with pytest.raises(client.exceptions.ClientException) as info:
        client.get_image(imageBuildVersionArn=f"{PREFIX}/1.0.0/3")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    bad_queries = [
        "",
        "imageBuildVersionArn=arn%3Anope",
        "imageBuildVersionArn=" + quote(f"{PREFIX}/1.0", safe=""),
        "imageBuildVersionArn=" + quote(f"{PREFIX}/1.0.0/3/4", safe=""),
        "imageBuildVersionArn=a&imageBuildVersionArn=b",
        "other=1",
    ]
    for query in bad_queries:
        reply = signed_get(server, query)
        assert reply.status_code == 400, query
        assert reply.headers["x-amzn-errortype"].startswith("InvalidRequestException"), query
    # The route table is by method AND path.
    for method, path in (("PUT", "/GetImage"), ("GET", "/CancelImageCreation"), ("GET", "/")):
        reply = signed_get(server, "", method=method, path=path)
        assert reply.status_code == 404
        assert reply.headers["x-amzn-errortype"].startswith("UnknownOperationException")


def test_get_image_checks_the_signature_of_the_exact_query(server: LocalImageBuilder) -> None:
    arn = f"{PREFIX}/1.0.0/3"
    server.add_image(arn)
    good = signed_get(server, "imageBuildVersionArn=" + quote(arn, safe=""))
    assert good.status_code == 200 and good.json()["image"]["arn"] == arn
    # Signed for one ARN, sent for another: refused, nothing answered for either.
    request = AWSRequest(
        method="GET",
        url=f"{server.endpoint_url}/GetImage?imageBuildVersionArn="
        + quote(f"{PREFIX}/1.0.0/9", safe=""),
    )
    SigV4Auth(
        BotocoreCredentials(PLAIN_CREDS.access_key_id, PLAIN_CREDS.secret_access_key),
        "imagebuilder",
        "us-east-1",
    ).add_auth(request)
    forged = httpx.get(
        f"{server.endpoint_url}/GetImage?imageBuildVersionArn=" + quote(arn, safe=""),
        headers=dict(request.headers.items()),
    )
    assert forged.status_code == 403
    assert forged.headers["x-amzn-errortype"].startswith("InvalidSignatureException")
    assert "image" not in forged.json()


def test_a_session_token_with_long_term_credentials_is_refused(server: LocalImageBuilder) -> None:
    arn = f"{PREFIX}/1.0.0/3"
    server.add_image(arn)
    # The same key id and secret as the server's, plus a token they cannot have.
    with_token = sib.Credentials(
        PLAIN_CREDS.access_key_id, PLAIN_CREDS.secret_access_key, session_token=SESSION_TOKEN
    )
    reply = signed_get(server, "imageBuildVersionArn=" + quote(arn, safe=""), with_token)
    assert reply.status_code == 403
    assert reply.headers["x-amzn-errortype"].startswith("UnrecognizedClientException")
    assert reply.json()["message"] == "The security token included in the request is invalid."
    assert SESSION_TOKEN not in reply.text
    with (
        sib.ImageBuilderClient(
            region="us-east-1",
            credentials=with_token,
            endpoint_url=server.endpoint_url,
            retry_policy=NO_SLEEP,
        ) as client,
        pytest.raises(sib.ServiceError) as info,
    ):
        client.cancel_image_creation(arn)
    assert (info.value.code, info.value.status_code) == ("UnrecognizedClientException", 403)
    assert SESSION_TOKEN not in str(info.value) and SECRET not in str(info.value)
    assert server.image_status(arn) == "BUILDING"
    # Unsigned token header alone (no Authorization) is still just unsigned.
    unsigned = httpx.get(
        f"{server.endpoint_url}/GetImage", headers={"X-Amz-Security-Token": SESSION_TOKEN}
    )
    assert unsigned.headers["x-amzn-errortype"].startswith("IncompleteSignatureException")


def test_requests_and_tokens_are_bounded() -> None:
    arns = [f"{PREFIX}/1.0.{i}/1" for i in range(4)]
    with (
        LocalImageBuilder(CREDS, region="us-east-1", max_requests=3, max_tokens=2) as server,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url
        ) as client,
    ):
        for arn in arns:
            server.add_image(arn, cancel_delay=100)
        first = client.cancel_image_creation(arns[0], client_token="tok-0")
        again_0 = client.cancel_image_creation(arns[0], client_token="tok-0")
        assert again_0.request_id == first.request_id
        client.cancel_image_creation(arns[1], client_token="tok-1")
        client.cancel_image_creation(arns[2], client_token="tok-2")
        # tok-0 was the oldest of three: forgotten, so reusing it with another
        # image is a new cancel, not IdempotentParameterMismatchException.
        again = client.cancel_image_creation(arns[3], client_token="tok-0")
        assert again.image_build_version_arn == arns[3]
        # tok-2 is remembered: the mismatch is still caught.
        with pytest.raises(sib.IdempotentParameterMismatchException):
            client.cancel_image_creation(arns[0], client_token="tok-2")
        kept = server.requests
        assert len(kept) == 3 and isinstance(kept, list)
        assert json.loads(kept[-1].body)["clientToken"] == "tok-2"
        kept.clear()  # a copy: the server's log is untouched
        assert len(server.requests) == 3
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_requests"):
            LocalImageBuilder(max_requests=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_tokens"):
            LocalImageBuilder(max_tokens=bad)  # type: ignore[arg-type]


def test_the_stand_in_shares_no_rules_with_the_client() -> None:
    """The stand-in checks the client; it must not import the client's protocol or specs."""
    import ast
    from pathlib import Path

    import sigv4_imagebuilder.testing as kit

    allowed = {"_credentials", "_http"}  # the Credentials data type, and a redaction helper
    for name in ("_local.py", "_images.py", "_sigv4.py"):
        tree = ast.parse((Path(kit.__file__).parent / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                assert node.module in allowed, f"{name} imports {node.module}"


@pytest.mark.parametrize("status", sorted(NON_TERMINAL))
def test_non_terminal_images_become_cancelled(status: str) -> None:
    with LocalImageBuilder(CREDS, region="us-east-1") as server, cancel_client(server) as client:
        server.add_image(ARN, status)
        resp = client.cancel_image_creation(ARN)
        assert server.image_status(ARN) == "CANCELLED"
    assert resp.image_build_version_arn == ARN and resp.request_id == resp.metadata.request_id


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_images_get_invalid_request(status: str) -> None:
    with LocalImageBuilder(CREDS, region="us-east-1") as server, cancel_client(server) as client:
        server.add_image(ARN, status)
        with pytest.raises(sib.InvalidRequestException, match=f"terminal state \\({status}\\)"):
            client.cancel_image_creation(ARN)
        assert server.image_status(ARN) == status


def test_unknown_arn_is_a_client_exception_and_idempotency() -> None:
    with LocalImageBuilder(CREDS, region="us-east-1") as server, cancel_client(server) as client:
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
        with cancel_client(server, wrong) as client, pytest.raises(sib.ServiceError) as info:
            client.cancel_image_creation(ARN)
        assert (info.value.code, info.value.status_code) == ("InvalidSignatureException", 403)
        stranger = sib.Credentials("AKIDSTRANGER", "x")
        with cancel_client(server, stranger) as client, pytest.raises(sib.ServiceError) as info:
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

        from sigv4_imagebuilder._operations import CANCEL_IMAGE_CREATION
        from sigv4_imagebuilder._protocol import serialize_request
        from sigv4_imagebuilder._signing import sign

        old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
        values = {"image_build_version_arn": ARN, "client_token": "t"}
        signed = sign(
            serialize_request(CANCEL_IMAGE_CREATION, server.endpoint_url, values),
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
        server.add_image(ARN)
        valid = {"imageBuildVersionArn": ARN, "clientToken": "t"}
        for body in (
            # Once a RecursionError in the handler: answered like other bad JSON.
            b"[" * 100_000 + b"]" * 100_000,
            # json.loads reads UTF-16 and UTF-32 bytes; the service reads UTF-8 only.
            json.dumps(valid).encode("utf-16"),
            json.dumps(valid).encode("utf-32-le"),
            json.dumps(valid).encode("utf-16-be"),
            b'{"imageBuildVersionArn": "\xff"}',
        ):
            reply = send(server, "/CancelImageCreation", body)
            assert reply.status_code == 400
            assert reply.headers["x-amzn-errortype"].startswith("InvalidRequestException")
            assert reply.json()["message"] == "The body is not JSON."
        # Still serving, and the image untouched by the bodies it refused.
        assert server.image_status(ARN) == "BUILDING"
        good = json.dumps({"imageBuildVersionArn": ARN, "clientToken": "t"}).encode()
        assert send(server, "/CancelImageCreation", good).status_code == 200
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


def test_many_concurrent_cancels_and_polls_agree() -> None:
    """Threads cancelling and polling one image with a pending cancel: one consistent story."""
    import threading

    clock = FakeClock()
    arn = f"{PREFIX}/1.0.0/3"
    seen: list[str] = []
    errors: list[BaseException] = []
    with LocalImageBuilder(PLAIN_CREDS, region="us-east-1", clock=clock) as server:
        server.add_image(arn, "DISTRIBUTING", cancel_delay=10)
        client = boto(server)  # botocore clients are thread-safe

        def work(index: int) -> None:
            try:
                if index % 2:
                    client.cancel_image_creation(imageBuildVersionArn=arn)
                else:
                    status = client.get_image(imageBuildVersionArn=arn)["image"]["state"]
                    seen.append(status["status"])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == [] and seen == ["DISTRIBUTING"] * 8
        clock.now += 10
        assert client.get_image(imageBuildVersionArn=arn)["image"]["state"]["status"] == (
            "CANCELLED"
        )
        assert len(server.requests) == 17


def test_the_library_get_image_reads_the_stand_in_in_every_status(
    local_imagebuilder: LocalImageBuilder, local_imagebuilder_client: sib.ImageBuilderClient
) -> None:
    """The plugin's fixtures serve the library's own GetImage too."""
    for build, status in enumerate(STATUSES, start=1):
        arn = f"{PREFIX}/1.0.0/{build}"
        local_imagebuilder.add_image(arn, status, tags={"team": "builds"})
        resp = local_imagebuilder_client.get_image(arn)
        assert resp.image is not None and resp.image.state is not None
        assert (resp.image.arn, resp.image.state.status) == (arn, status)
        assert resp.image.tags == {"team": "builds"} and resp.request_id
        amis = resp.image.output_resources.amis if resp.image.output_resources else ()
        assert bool(amis) == (status in {"AVAILABLE", "DEPRECATED", "DISABLED"})
    latest = local_imagebuilder_client.get_image(f"{PREFIX}/1.x.x")
    assert latest.image is not None and latest.image.version == f"1.0.0/{len(STATUSES)}"


def test_the_library_waiter_sees_the_asynchronous_cancel_land() -> None:
    clock = FakeClock()
    seen: list[str] = []

    def on_status(resp: sib.GetImageResponse) -> None:
        assert resp.image is not None and resp.image.state is not None
        seen.append(resp.image.state.status)
        clock.now += 45  # the build takes its time to stop

    with (
        LocalImageBuilder(CREDS, region="us-east-1", clock=clock) as server,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url
        ) as client,
    ):
        server.add_image(ARN, "BUILDING", cancel_delay=45)
        client.cancel_image_creation(ARN)
        done = client.wait_until_image_cancelled(
            ARN, min_delay=0.01, max_delay=0.02, max_wait=10, on_status=on_status
        )
    assert done.image is not None and done.image.state is not None
    assert done.image.state.status == "CANCELLED" and seen == ["BUILDING", "CANCELLED"]


async def test_the_async_waiter_fails_when_the_cancel_loses_the_race() -> None:
    with LocalImageBuilder(CREDS, region="us-east-1", clock=FakeClock()) as server:
        server.add_image(ARN, "DISTRIBUTING", cancel_delay=60)

        def finished(resp: sib.GetImageResponse) -> None:
            server.set_image_status(ARN, "AVAILABLE")  # it finished before stopping

        async with sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url
        ) as client:
            await client.cancel_image_creation(ARN)
            with pytest.raises(sib.WaiterFailureError) as info:
                await client.wait_until_image_cancelled(
                    ARN, min_delay=0.01, max_delay=0.02, max_wait=10, on_status=finished
                )
    assert info.value.status == "AVAILABLE"


def test_library_get_image_records_and_replays(tmp_path: Path) -> None:
    out = tmp_path / "get.json"
    with (
        LocalImageBuilder(CREDS, region="us-east-1") as server,
        record(out, patch_httpx=False) as rec,
        httpx.Client(transport=rec.transport()) as http,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url,
            http_client=http,
        ) as client,
    ):  # fmt: skip
        server.add_image(ARN, "AVAILABLE")
        live = client.get_image(ARN)
    assert load_fixture(out).expected_query == {"imageBuildVersionArn": [ARN]}
    with (
        replay(out),
        sib.ImageBuilderClient(region="eu-west-1", credentials=PLAIN_CREDS) as client,
    ):
        again = client.get_image(ARN)
    with (
        pytest.raises(ReplayMismatch, match=r"query imageBuildVersionArn is '.*/1\.x\.x'"),
        replay(out, assert_all_played=False),
        sib.ImageBuilderClient(region="eu-west-1", credentials=PLAIN_CREDS) as client,
    ):
        client.get_image(f"{PREFIX}/1.x.x")
    assert again.image == live.image and again.request_id == live.request_id
