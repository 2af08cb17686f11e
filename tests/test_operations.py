"""Operation specs and the generic protocol functions that read them."""

from __future__ import annotations

import json

import httpx
import pytest
from conftest import ARN, TOKEN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._http import HttpResponse
from sigv4_imagebuilder._models import freeze, thaw
from sigv4_imagebuilder._operations import (
    CANCEL_IMAGE_CREATION,
    GET_IMAGE,
    OPERATIONS,
    Member,
    find_operation,
)
from sigv4_imagebuilder._protocol import (
    parse_error,
    response_to_wire,
    serialize_request,
    validate_input,
)

GET_ARNS = [
    ARN,
    "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.0.0",
    "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.x.x",
    "arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2-x86/x.x.x",
    "arn:aws-cn:imagebuilder:cn-north-1:aws-marketplace:image/a_b-c/10.x.3",
]


def test_the_registry_holds_every_spec_by_name() -> None:
    from sigv4_imagebuilder._operations import LIST_IMAGE_BUILD_VERSIONS, LIST_IMAGE_PIPELINE_IMAGES

    assert dict(OPERATIONS) == {
        "CancelImageCreation": CANCEL_IMAGE_CREATION,
        "GetImage": GET_IMAGE,
        "ListImagePipelineImages": LIST_IMAGE_PIPELINE_IMAGES,
        "ListImageBuildVersions": LIST_IMAGE_BUILD_VERSIONS,
    }
    assert (GET_IMAGE.method, GET_IMAGE.path) == ("GET", "/GetImage")
    assert (CANCEL_IMAGE_CREATION.method, CANCEL_IMAGE_CREATION.path) == (
        "PUT",
        "/CancelImageCreation",
    )
    token = CANCEL_IMAGE_CREATION.idempotency_token
    assert token is not None and token.wire == "clientToken"
    assert GET_IMAGE.idempotency_token is None
    assert {e.__name__ for e in GET_IMAGE.errors} == {
        "ServiceException",
        "ClientException",
        "ServiceUnavailableException",
        "InvalidRequestException",
        "ForbiddenException",
        "CallRateLimitExceededException",
    }
    assert "output=" not in repr(GET_IMAGE)


@pytest.mark.parametrize("arn", GET_ARNS)
def test_get_image_accepts_build_and_wildcard_version_arns(arn: str) -> None:
    assert validate_input(GET_IMAGE, {"image_build_version_arn": arn}) == {
        "image_build_version_arn": arn
    }


@pytest.mark.parametrize("arn", GET_ARNS[1:])
def test_cancel_keeps_its_stricter_build_version_pattern(arn: str) -> None:
    with pytest.raises(sib.ParamValidationError, match="must match"):
        validate_input(CANCEL_IMAGE_CREATION, {"image_build_version_arn": arn})


@pytest.mark.parametrize(
    ("arn", "rule"),
    [
        (ARN + "\n", "must match"),
        ("arn:aws:imagebuilder:us-east-1:123456789012:image/demo/1.x", "must match"),
        ("arn:aws:imagebuilder:us-east-1:123456789012:image/demo/1.x.x/1", "must match"),
        ("arn:aws:imagebuilder:us-east-1:123456789012:image/Demo/1.0.0", "must match"),
        ("arn:aws:imagebuilder:us-east-1:123456789012:component/x/1.0.0/1", "must match"),
        ("", "must match"),
        (None, "must be a str, not NoneType"),
        (b"arn", "must be a str, not bytes"),
    ],
)
def test_get_image_rejects_bad_arns(arn: object, rule: str) -> None:
    with pytest.raises(sib.ParamValidationError, match=rule) as info:
        validate_input(GET_IMAGE, {"image_build_version_arn": arn})
    assert info.value.param == "image_build_version_arn"


SURROGATE_ARN = "arn:aws:imagebuilder:us-east\udcff-1:123456789012:image/demo-recipe/1.0.0/3"


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        (GET_IMAGE, {"image_build_version_arn": SURROGATE_ARN}),
        (CANCEL_IMAGE_CREATION, {"image_build_version_arn": ARN, "client_token": "tok\udcff"}),
    ],
)
def test_values_utf8_cannot_encode_are_refused(operation: object, params: dict[str, str]) -> None:
    # GetImage's pattern lets a lone surrogate through ([^:]); quote() and the
    # signer then raised UnicodeEncodeError mid-call.
    with pytest.raises(sib.ParamValidationError, match="encodable as UTF-8") as info:
        validate_input(operation, params)  # type: ignore[arg-type]
    assert not isinstance(info.value, UnicodeError)


def test_a_surrogate_arn_sends_nothing() -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200))
    client = sib.ImageBuilderClient(
        region="us-east-1",
        credentials=sib.Credentials("AKID", "s"),
        http_client=httpx.Client(transport=transport),
    )
    with client, pytest.raises(sib.ParamValidationError, match="image_build_version_arn"):
        client.get_image(SURROGATE_ARN)
    assert sent == []


def test_unknown_parameters_are_refused() -> None:
    with pytest.raises(sib.ParamValidationError, match="not a parameter of GetImage"):
        validate_input(GET_IMAGE, {"image_build_version_arn": ARN, "client_token": TOKEN})


def test_the_idempotency_token_is_filled_only_when_omitted() -> None:
    params = {"image_build_version_arn": ARN}
    filled = validate_input(CANCEL_IMAGE_CREATION, params, lambda: "fresh")
    assert filled == {"image_build_version_arn": ARN, "client_token": "fresh"}
    given = validate_input(CANCEL_IMAGE_CREATION, {**params, "client_token": TOKEN}, lambda: "x")
    assert given["client_token"] == TOKEN
    with pytest.raises(sib.ParamValidationError, match="client_token"):
        validate_input(CANCEL_IMAGE_CREATION, params)  # no token source: required


def test_optional_members_and_length_rules() -> None:
    member = Member(name="note", wire="note", location="query", required=False, max_length=3)
    member.validate(None)
    member.validate("abc")
    with pytest.raises(sib.ParamValidationError, match="between 0 and 3 characters, got 4"):
        member.validate("abcd")


def test_get_image_serializes_to_a_percent_encoded_query_and_no_body() -> None:
    arn = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.x.x"
    request = serialize_request(
        GET_IMAGE, "https://imagebuilder.us-east-1.amazonaws.com/", {"image_build_version_arn": arn}
    )
    assert request.method == "GET"
    assert request.url == (
        "https://imagebuilder.us-east-1.amazonaws.com/GetImage?imageBuildVersionArn="
        "arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A123456789012%3Aimage%2Fdemo-recipe%2F1.x.x"
    )
    assert request.body == b""
    assert request.headers == (("Host", "imagebuilder.us-east-1.amazonaws.com"),)
    assert request.header("content-type") is None


def test_cancel_serializes_to_a_json_body_in_member_order() -> None:
    request = serialize_request(
        CANCEL_IMAGE_CREATION,
        "http://127.0.0.1:9000/prefix",
        {"image_build_version_arn": ARN, "client_token": TOKEN},
    )
    assert (request.method, request.url) == (
        "PUT",
        "http://127.0.0.1:9000/prefix/CancelImageCreation",
    )
    assert list(json.loads(request.body)) == ["imageBuildVersionArn", "clientToken"]
    assert request.header("content-type") == "application/json"


@pytest.mark.parametrize(
    ("operation", "name"), [(GET_IMAGE, "GetImage"), (CANCEL_IMAGE_CREATION, "CancelImageCreation")]
)
def test_service_errors_name_their_operation(operation: object, name: str) -> None:
    error = parse_error(
        operation,  # type: ignore[arg-type]
        HttpResponse(
            status_code=400,
            headers={"x-amzn-errortype": "ClientException", "x-amzn-requestid": "r"},
            body=b'{"message": "no such image"}',
        ),
    )
    assert isinstance(error, sib.ClientException)
    assert error.operation_name == name
    assert (
        str(error)
        == f"An error occurred (ClientException) when calling the {name} operation: no such image"
    )
    assert error.response["Error"] == {"Code": "ClientException", "Message": "no such image"}


def test_a_service_error_built_by_hand_has_no_operation() -> None:
    error = sib.ServiceError(code="X", message="m", status_code=400)
    assert error.operation_name is None
    assert str(error) == "An error occurred (X): m"


def test_freeze_and_thaw_round_trip() -> None:
    value = {"a": [1, {"b": None, "c": [True, "x"]}], "d": {}}
    frozen = freeze(value)
    assert thaw(frozen) == value
    with pytest.raises(TypeError):
        frozen["a"] = 1
    assert isinstance(frozen["a"], tuple)


def test_response_to_wire_knows_every_operation_and_nothing_else() -> None:
    metadata = sib.ResponseMetadata(request_id=None, http_status_code=200, http_headers={})
    cancel = sib.CancelImageCreationResponse(
        request_id="r", client_token=None, image_build_version_arn=ARN, metadata=metadata
    )
    assert response_to_wire(cancel) == {"requestId": "r", "imageBuildVersionArn": ARN}
    get = sib.GetImageResponse(
        request_id=None,
        image=None,
        latest_version_references=sib.LatestVersionReferences(latest_version_arn=ARN),
        metadata=metadata,
    )
    assert response_to_wire(get) == {"latestVersionReferences": {"latestVersionArn": ARN}}
    with pytest.raises(TypeError, match="not an operation's result: dict"):
        response_to_wire({})


def test_find_operation_routes_by_method_and_path() -> None:
    assert find_operation("put", "/CancelImageCreation") is CANCEL_IMAGE_CREATION
    assert find_operation("GET", "/GetImage") is GET_IMAGE
    assert find_operation("GET", "/CancelImageCreation") is None
    assert find_operation("GET", "/GetImage/") is None


def test_every_operation_is_a_command_named_and_described_by_its_spec() -> None:
    from sigv4_imagebuilder._cli import COMMANDS

    assert {c.operation.name for c in COMMANDS} == set(OPERATIONS)
    for command in COMMANDS:
        assert command.operation.summary and command.help == command.operation.summary
        assert (
            command.name
            == {
                "CancelImageCreation": "cancel-image-creation",
                "GetImage": "get-image",
                "ListImagePipelineImages": "list-image-pipeline-images",
                "ListImageBuildVersions": "list-image-build-versions",
            }[command.operation.name]
        )
        assert (command.pages is not None) == (command.operation.paginator is not None)
