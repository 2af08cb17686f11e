"""GetImage: parsing the image, both clients, and the exact bytes on the wire."""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

import httpx
import pytest
import respx
from conftest import ARN, CREDS, NO_SLEEP, PLAIN_CREDS, SECRET, SESSION_TOKEN, utcnow

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._http import HttpResponse
from sigv4_imagebuilder._models import thaw
from sigv4_imagebuilder._operations import GET_IMAGE
from sigv4_imagebuilder._protocol import parse_success, serialize_request
from sigv4_imagebuilder._signing import sign
from sigv4_imagebuilder.testing import (
    LoopbackServer,
    ReceivedRequest,
    Reply,
    verify_request_signature,
)

ENCODED_ARN = (
    "arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A123456789012%3Aimage%2Fdemo-recipe%2F1.0.0%2F3"
)
IMAGE: dict[str, Any] = {
    "arn": ARN,
    "type": "AMI",
    "name": "demo-recipe",
    "version": "1.0.0/3",
    "platform": "Linux",
    "enhancedImageMetadataEnabled": True,
    "osVersion": "Amazon Linux 2",
    "state": {"status": "AVAILABLE"},
    "imageRecipe": {
        "arn": "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/demo-recipe/1.0.0",
        "components": [
            {"componentArn": "arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x"}
        ],
    },
    "sourcePipelineName": "demo-pipeline",
    "sourcePipelineArn": "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/demo-pipeline",
    "dateCreated": "2026-11-27T10:33:00.000Z",
    "outputResources": {
        "amis": [
            {
                "region": "us-east-1",
                "image": "ami-0123456789abcdef0",
                "name": "demo-recipe 2026-11-27T10-33-00.000Z",
                "description": "built by Image Builder",
                "state": {"status": "AVAILABLE"},
                "accountId": "123456789012",
            }
        ],
        "containers": [
            {
                "region": "eu-west-1",
                "imageUris": ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo:1.0.0-3"],
            }
        ],
    },
    "tags": {"team": "platform", "env": "dev"},
    "buildType": "USER_INITIATED",
    "imageSource": "CUSTOM",
    "scanState": {"status": "COMPLETED"},
    "deprecationTime": 1.7e9,
    "aFieldAddedNextYear": {"nested": [1, 2, {"deep": None}]},
}
BODY = {
    "requestId": "req-1",
    "image": IMAGE,
    "latestVersionReferences": {
        "latestVersionArn": ARN,
        "latestMajorVersionArn": ARN,
        "latestMinorVersionArn": ARN,
        "latestPatchVersionArn": ARN,
    },
}


def _parse(body: Any, **headers: str) -> sib.GetImageResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_success(GET_IMAGE, HttpResponse(status_code=200, headers=headers, body=raw), 1)


def test_a_full_image_parses_to_typed_fields() -> None:
    resp = _parse(BODY, **{"x-amzn-requestid": "hdr"})
    assert resp.request_id == "req-1"
    assert resp.metadata == sib.ResponseMetadata(
        request_id="hdr",
        http_status_code=200,
        http_headers={"x-amzn-requestid": "hdr"},
        retry_attempts=1,
    )
    image = resp.image
    assert image is not None
    assert (image.arn, image.name, image.version, image.type, image.platform) == (
        ARN,
        "demo-recipe",
        "1.0.0/3",
        "AMI",
        "Linux",
    )
    assert (image.os_version, image.date_created, image.build_type, image.image_source) == (
        "Amazon Linux 2",
        "2026-11-27T10:33:00.000Z",
        "USER_INITIATED",
        "CUSTOM",
    )
    assert image.state == sib.ImageState(status="AVAILABLE", reason=None)
    assert image.source_pipeline_arn == IMAGE["sourcePipelineArn"]
    assert image.output_resources == sib.OutputResources(
        amis=(
            sib.Ami(
                region="us-east-1",
                image_id="ami-0123456789abcdef0",
                name="demo-recipe 2026-11-27T10-33-00.000Z",
                description="built by Image Builder",
                account_id="123456789012",
                state=sib.ImageState(status="AVAILABLE"),
            ),
        ),
        containers=(
            sib.Container(
                region="eu-west-1",
                image_uris=("123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo:1.0.0-3",),
            ),
        ),
    )
    assert dict(image.tags or {}) == {"team": "platform", "env": "dev"}
    assert resp.latest_version_references == sib.LatestVersionReferences(
        latest_version_arn=ARN,
        latest_major_version_arn=ARN,
        latest_minor_version_arn=ARN,
        latest_patch_version_arn=ARN,
    )
    hash(image)  # frozen and hashable despite its mappings


def test_raw_keeps_everything_read_only() -> None:
    image = _parse(copy.deepcopy(BODY)).image
    assert image is not None
    assert thaw(image.raw) == IMAGE  # nothing lost, unknown fields included
    assert image.raw["aFieldAddedNextYear"]["nested"][2] == {"deep": None}
    with pytest.raises(TypeError):
        image.raw["arn"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        image.raw["tags"]["team"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        image.tags["team"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        image.name = "x"  # type: ignore[misc]


def test_missing_fields_are_none() -> None:
    resp = _parse({})
    assert (resp.request_id, resp.image, resp.latest_version_references) == (None, None, None)
    image = _parse({"image": {}}).image
    assert image == sib.Image()
    assert (
        image is not None
        and image.state is None
        and image.output_resources is None
        and image.tags is None
    )
    state = _parse({"image": {"state": {}, "outputResources": {}}}).image
    assert state is not None and state.state == sib.ImageState()
    assert state.output_resources == sib.OutputResources(amis=(), containers=())
    assert (
        _parse({"image": {"state": {"status": "SOMETHING_NEW"}}}).image.state.status
        == "SOMETHING_NEW"
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"requestId": 7}, "field requestId should be a string, got int"),
        ({"image": []}, "field image should be an object, got tuple"),
        ({"image": {"name": 1}}, "field image.name should be a string, got int"),
        ({"image": {"state": "AVAILABLE"}}, "field image.state should be an object, got str"),
        (
            {"image": {"state": {"status": ["x"]}}},
            "field image.state.status should be a string, got tuple",
        ),
        ({"image": {"tags": ["a"]}}, "field image.tags should be an object, got tuple"),
        ({"image": {"tags": {"a": 1}}}, "field image.tags['a'] should be a string, got int"),
        (
            {"image": {"outputResources": {"amis": {}}}},
            "field image.outputResources.amis should be an array",
        ),
        (
            {"image": {"outputResources": {"amis": [1]}}},
            "field image.outputResources.amis[0] should be an object, got int",
        ),
        (
            {"image": {"outputResources": {"amis": [{"image": 5}]}}},
            "field image.outputResources.amis[0].image should be a string",
        ),
        (
            {"image": {"outputResources": {"containers": [{"imageUris": [None]}]}}},
            "containers[0].imageUris[0] should be a string",
        ),
        (
            {"latestVersionReferences": {"latestVersionArn": False}},
            "latestVersionReferences.latestVersionArn should be a string",
        ),
        (b"[]", "expected a JSON object"),
        (b"{" * 5000, "expected a JSON object"),
        # Python 3.13's json reads 3000 levels, and then reading the image recurses too deep.
        (b'{"image":' * 3000 + b"1" + b"}" * 3000, "expected a JSON object|nested too deeply"),
    ],
)
def test_wrong_types_are_a_response_parse_error(body: Any, field: str) -> None:
    with pytest.raises(sib.ResponseParseError) as info:
        _parse(body, **{"x-amzn-requestid": "rid"})
    assert any(alternative in str(info.value) for alternative in field.split("|"))
    assert info.value.request_id == "rid"


def test_deep_but_valid_nesting_inside_unknown_fields_is_a_parse_error_not_a_crash() -> None:
    # Deep enough for json to decode, too deep to freeze in a shallow stack.
    depth = 900
    body = b'{"image":{"x":' + b"[" * depth + b"]" * depth + b"}}"
    try:
        image = _parse(body).image
    except sib.ResponseParseError as exc:
        assert "nested too deeply" in str(exc)
    else:
        assert image is not None and "x" in image.raw


def _ok_body(status: str = "BUILDING") -> dict[str, Any]:
    return {"requestId": "r", "image": {"arn": ARN, "state": {"status": status}}}


def test_sync_get_image_sends_a_get_with_the_encoded_query(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get("https://imagebuilder.us-east-1.amazonaws.com/GetImage").mock(
        return_value=httpx.Response(200, json=_ok_body())
    )
    with sib.ImageBuilderClient(region="us-east-1", credentials=CREDS) as client:
        resp = client.get_image(ARN)
    assert resp.image is not None and resp.image.state == sib.ImageState(status="BUILDING")
    sent = route.calls[0].request
    assert sent.method == "GET" and sent.content == b""
    assert sent.url.raw_path.decode() == f"/GetImage?imageBuildVersionArn={ENCODED_ARN}"
    assert "content-type" not in sent.headers
    assert sent.url.params["imageBuildVersionArn"] == ARN
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token," in sent.headers["authorization"]


async def test_async_get_image_and_its_errors_name_get_image(respx_mock: respx.MockRouter) -> None:
    respx_mock.get("https://imagebuilder.us-east-1.amazonaws.com/GetImage").mock(
        side_effect=[
            httpx.Response(
                429, headers={"x-amzn-ErrorType": "CallRateLimitExceededException"}, json={}
            ),
            httpx.Response(200, json=_ok_body("CANCELLED")),
            httpx.Response(
                400,
                headers={"x-amzn-ErrorType": "ClientException", "x-amzn-RequestId": "rid"},
                json={"message": "Image not found"},
            ),
        ]
    )
    async with sib.AsyncImageBuilderClient(
        region="us-east-1", credentials=CREDS, retry_policy=NO_SLEEP
    ) as client:
        resp = await client.get_image(ARN)
        assert resp.image is not None and resp.image.state is not None
        assert resp.image.state.status == "CANCELLED" and resp.metadata.retry_attempts == 1
        with pytest.raises(sib.ClientException) as info:
            await client.get_image(ARN)
    assert (
        str(info.value)
        == "An error occurred (ClientException) when calling the GetImage operation: Image not found"
    )
    assert info.value.response["ResponseMetadata"]["RequestId"] == "rid"
    assert info.value.retry_attempts == 0
    for text in (str(info.value), repr(info.value), json.dumps(info.value.response)):
        assert SECRET not in text and SESSION_TOKEN not in text


@respx.mock(assert_all_called=False)
def test_a_bad_arn_sends_nothing(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.route().mock(return_value=httpx.Response(200, json={}))
    client = sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS)
    for bad in ("arn:nope", None, 7, ARN + "\n", ARN.replace("1.0.0/3", "1.0")):
        with pytest.raises(sib.ParamValidationError, match="image_build_version_arn"):
            client.get_image(bad)  # type: ignore[arg-type]
    assert route.call_count == 0


class SigningServer:
    """Answers GetImage only to requests whose signature verifies."""

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
                headers=[("x-amzn-ErrorType", problem.code)],
                body=json.dumps({"message": problem.message}).encode(),
            )
        return Reply(headers=[("Content-Type", "application/json")], body=json.dumps(BODY).encode())


WILDCARD_ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.x.x"


@pytest.mark.parametrize("arn", [ARN, WILDCARD_ARN])
def test_sync_signature_verifies_on_the_wire_for_the_exact_query(arn: str) -> None:
    handler = SigningServer(CREDS)
    with (
        LoopbackServer(handler) as server,
        sib.ImageBuilderClient(
            region="us-east-1", credentials=CREDS, endpoint_url=server.endpoint_url
        ) as client,
    ):
        resp = client.get_image(arn)
    assert resp.request_id == "req-1"
    got = handler.received[0]
    assert got.method == "GET" and got.path == "/GetImage" and got.body == b""
    encoded = arn.replace(":", "%3A").replace("/", "%2F")
    assert got.query == f"imageBuildVersionArn={encoded}"
    assert got.header("content-type") is None
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token," in (
        got.header("authorization") or ""
    )


async def test_async_signature_verifies_on_the_wire() -> None:
    handler = SigningServer(PLAIN_CREDS)
    with LoopbackServer(handler) as server:
        async with sib.AsyncImageBuilderClient(
            region="us-east-1", credentials=PLAIN_CREDS, endpoint_url=server.endpoint_url + "/"
        ) as client:
            resp = await client.get_image(ARN)
    assert resp.image is not None and resp.image.arn == ARN
    assert handler.received[0].query == f"imageBuildVersionArn={ENCODED_ARN}"


def test_the_verifier_refuses_a_query_changed_after_signing() -> None:
    # Sign one ARN and send another: the server must notice the query.
    def tamper(request: httpx.Request) -> None:
        request.url = request.url.copy_with(
            query=request.url.query.replace(b"demo-recipe", b"demo-recipx")
        )

    handler = SigningServer(PLAIN_CREDS)
    with LoopbackServer(handler) as server, httpx.Client(event_hooks={"request": [tamper]}) as http:
        client = sib.ImageBuilderClient(
            region="us-east-1",
            credentials=PLAIN_CREDS,
            endpoint_url=server.endpoint_url,
            http_client=http,
        )
        with pytest.raises(sib.ServiceError) as info:
            client.get_image(ARN)
    assert info.value.code == "InvalidSignatureException"
    assert "GetImage" in str(info.value)


def test_same_signature_as_botocores_own_add_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    when = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.timezone.utc)
    creds = sib.Credentials("AKIDEXAMPLE", "secret/key", session_token="tok")
    unsigned = serialize_request(
        GET_IMAGE,
        "https://imagebuilder.us-west-2.amazonaws.com",
        {"image_build_version_arn": WILDCARD_ARN},
    )
    ours = sign(unsigned, creds, region="us-west-2", now=when)

    naive = when.replace(tzinfo=None)
    if hasattr(botocore.auth, "get_current_datetime"):
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: naive)
    else:  # botocore 1.31 (our lowest bound) calls datetime.datetime.utcnow() itself

        class Frozen(datetime.datetime):
            @classmethod
            def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
                return naive

        monkeypatch.setattr(botocore.auth.datetime, "datetime", Frozen)
    # What botocore's rest-json serializer produces for GetImage: the path and
    # the ARN as a query parameter, which AWSRequest encodes itself.
    reference = AWSRequest(
        method="GET",
        url="https://imagebuilder.us-west-2.amazonaws.com/GetImage",
        params={"imageBuildVersionArn": WILDCARD_ARN},
        data=b"",
    )
    botocore.auth.SigV4Auth(
        BotoCredentials("AKIDEXAMPLE", "secret/key", "tok"), "imagebuilder", "us-west-2"
    ).add_auth(reference)
    assert ours.header("Authorization") == reference.headers["Authorization"]
    assert reference.prepare().url == unsigned.url
