"""The signature holds for the bytes httpx actually sends: checked by a real
server on 127.0.0.1 with an independent SigV4 verifier."""

from __future__ import annotations

import json

import pytest
from conftest import ARN, CREDS, PLAIN_CREDS, TOKEN, utcnow

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import (
    LoopbackServer,
    ReceivedRequest,
    Reply,
    verify_request_signature,
)


class SigningServer:
    """Answers 200 only to requests whose signature verifies; records what it got."""

    def __init__(self, known: sib.Credentials) -> None:
        self.known = known
        self.received: list[ReceivedRequest] = []

    def __call__(self, request: ReceivedRequest) -> Reply:
        self.received.append(request)
        problem = verify_request_signature(
            request,
            credentials={self.known.access_key_id: self.known},
            region="us-east-1",
            now=utcnow(),
        )
        if problem is not None:
            return Reply(
                status=403,
                headers=[("x-amzn-ErrorType", problem.code), ("x-amzn-RequestId", "sig-fail")],
                body=json.dumps({"message": problem.message}).encode(),
            )
        token = json.loads(request.body)["clientToken"]
        return Reply(
            headers=[("x-amzn-RequestId", "sig-ok"), ("Content-Type", "application/json")],
            body=json.dumps(
                {"requestId": "sig-ok", "clientToken": token, "imageBuildVersionArn": ARN}
            ).encode(),
        )


@pytest.mark.parametrize("creds", [CREDS, PLAIN_CREDS], ids=["session-token", "long-term"])
def test_sync_signature_verifies_on_the_wire(creds: sib.Credentials) -> None:
    handler = SigningServer(creds)
    with (
        LoopbackServer(handler) as server,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=creds, endpoint_url=server.endpoint_url
        ) as client,
    ):
        resp = client.cancel_image_creation(ARN, client_token=TOKEN)
    assert resp.request_id == "sig-ok" and resp.client_token == TOKEN
    got = handler.received[0]
    assert got.method == "PUT" and got.path == "/CancelImageCreation"
    assert json.loads(got.body) == {"imageBuildVersionArn": ARN, "clientToken": TOKEN}
    signed = got.header("authorization")
    assert signed is not None
    expected = "content-type;host;x-amz-date" + (
        ";x-amz-security-token" if creds.session_token else ""
    )
    assert f"SignedHeaders={expected}," in signed
    assert got.header("x-amz-security-token") == creds.session_token


async def test_async_signature_verifies_on_the_wire() -> None:
    handler = SigningServer(CREDS)
    with LoopbackServer(handler) as server:
        async with sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url + "/"
        ) as client:
            resp = await client.cancel_image_creation(ARN)
    assert resp.request_id == "sig-ok"


def test_a_wrong_secret_is_refused_by_the_verifier() -> None:
    handler = SigningServer(CREDS)
    wrong = sib.Credentials(
        CREDS.access_key_id, "not-the-secret", session_token=CREDS.session_token
    )
    with (
        LoopbackServer(handler) as server,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=wrong, endpoint_url=server.endpoint_url
        ) as client,
        pytest.raises(sib.ServiceError) as info,
    ):
        client.cancel_image_creation(ARN)
    assert info.value.code == "InvalidSignatureException"
    assert info.value.status_code == 403
    assert "signature we calculated does not match" in info.value.message


def test_a_body_changed_after_signing_is_refused() -> None:
    # Tamper with the bytes between signing and sending: the verifier must notice.
    import httpx

    def tamper(request: httpx.Request) -> None:
        request.stream = httpx.ByteStream(request.content.replace(b"demo-recipe", b"demo-recipX"))

    handler = SigningServer(PLAIN_CREDS)
    with LoopbackServer(handler) as server, httpx.Client(event_hooks={"request": [tamper]}) as http:
        client = sib.ImageBuilderClient(
            region="us-east-1",
            credentials=PLAIN_CREDS,
            endpoint_url=server.endpoint_url,
            http_client=http,
        )
        with pytest.raises(sib.ServiceError) as info:
            client.cancel_image_creation(ARN)
    assert info.value.code == "InvalidSignatureException"
