"""The sans-I/O protocol: golden data in, golden data out."""

from __future__ import annotations

import json

import pytest
from conftest import ARN, FIXTURES, TOKEN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._http import HttpResponse, host_header
from sigv4_imagebuilder._operations import CANCEL_IMAGE_CREATION as CANCEL
from sigv4_imagebuilder._protocol import (
    build_request,
    parse_error,
    parse_response,
    parse_success,
    response_to_wire,
    serialize_body,
    validate_input,
)
from sigv4_imagebuilder.testing import load_fixtures


def validate_params(arn: object, token: object) -> None:
    validate_input(CANCEL, {"image_build_version_arn": arn, "client_token": token})


@pytest.mark.parametrize(
    "arn",
    [
        ARN,
        "arn:aws-cn:imagebuilder:cn-north-1:123456789012:image/my_recipe-2/10.20.30/400",
        "arn:aws-us-gov:imagebuilder:us-gov-west-1:aws:image/x/1.0.0/1",
        "arn:aws:imagebuilder:us-east-1:aws-marketplace:image/x/1.0.0/1",
    ],
)
def test_valid_arns_pass(arn: str) -> None:
    validate_params(arn, TOKEN)


@pytest.mark.parametrize(
    ("arn", "token", "param", "rule"),
    [
        ("", TOKEN, "image_build_version_arn", "must match"),
        (
            "arn:aws:imagebuilder:us-east-1:123456789012:image/x/1.0.0",
            TOKEN,
            "image_build_version_arn",
            "must match",
        ),
        (
            "arn:aws:imagebuilder:us-east-1:12345:image/x/1.0.0/1",
            TOKEN,
            "image_build_version_arn",
            "must match",
        ),
        (
            "arn:aws:imagebuilder:us-east-1:123456789012:image/X/1.0.0/1",
            TOKEN,
            "image_build_version_arn",
            "must match",
        ),
        (ARN + "\n", TOKEN, "image_build_version_arn", "must match"),
        (
            "arn:aws:imagebuilder:us-east-1:123456789012:component/x/1.0.0/1",
            TOKEN,
            "image_build_version_arn",
            "must match",
        ),
        (None, TOKEN, "image_build_version_arn", "must be a str, not NoneType"),
        (123, TOKEN, "image_build_version_arn", "must be a str, not int"),
        (ARN, "", "client_token", "between 1 and 64"),
        (ARN, "x" * 65, "client_token", "between 1 and 64"),
        (ARN, 5, "client_token", "must be a str, not int"),
        (ARN, b"bytes", "client_token", "must be a str, not bytes"),
    ],
)
def test_invalid_params_name_param_rule_and_value(
    arn: object, token: object, param: str, rule: str
) -> None:
    with pytest.raises(sib.ParamValidationError) as info:
        validate_params(arn, token)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, sib.ImageBuilderError)
    assert err.param == param
    assert rule in str(err)
    assert param in str(err)
    assert repr(arn if param == "image_build_version_arn" else token)[:50] in str(err)


def test_client_token_of_64_characters_is_accepted() -> None:
    validate_params(ARN, "x" * 64)
    validate_params(ARN, "x")


def test_serialize_body_has_exactly_the_two_fields() -> None:
    body = serialize_body(ARN, TOKEN)
    assert json.loads(body) == {"imageBuildVersionArn": ARN, "clientToken": TOKEN}
    assert body == (
        b'{"imageBuildVersionArn":"arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.0.0/3",'
        b'"clientToken":"7f0c1a52-3c5e-4a8e-9d6b-2f1e8c4d9a10"}'
    )


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://imagebuilder.us-east-1.amazonaws.com/x", "imagebuilder.us-east-1.amazonaws.com"),
        ("https://Example.COM:443/x", "example.com"),
        ("http://127.0.0.1:8080/x", "127.0.0.1:8080"),
        ("http://localhost:80/x", "localhost"),
        ("https://host:8443", "host:8443"),
        ("http://[::1]:9000/x", "[::1]:9000"),
    ],
)
def test_host_header(url: str, host: str) -> None:
    assert host_header(url) == host


def test_build_request_keeps_an_endpoint_path_prefix() -> None:
    request = build_request("http://127.0.0.1:9000/prefix/", b"{}")
    assert request.url == "http://127.0.0.1:9000/prefix/CancelImageCreation"
    assert request.header("host") == "127.0.0.1:9000"
    assert request.header("CONTENT-TYPE") == "application/json"
    assert request.header("x-missing") is None


def _resp(status: int, body: bytes, **headers: str) -> HttpResponse:
    return HttpResponse(
        status_code=status,
        headers={k.replace("_", "-").lower(): v for k, v in headers.items()},
        body=body,
    )


def test_parse_success_golden() -> None:
    body = json.dumps(
        {"requestId": "r", "clientToken": TOKEN, "imageBuildVersionArn": ARN}
    ).encode()
    result = parse_success(CANCEL, _resp(200, body, x_amzn_RequestId="hdr-id"), 2)
    assert result == sib.CancelImageCreationResponse(
        request_id="r",
        client_token=TOKEN,
        image_build_version_arn=ARN,
        metadata=sib.ResponseMetadata(
            request_id="hdr-id",
            http_status_code=200,
            http_headers={"x-amzn-requestid": "hdr-id"},
            retry_attempts=2,
        ),
    )
    assert response_to_wire(result) == {
        "requestId": "r",
        "clientToken": TOKEN,
        "imageBuildVersionArn": ARN,
    }


def test_parse_success_with_missing_fields_and_unknown_extra_fields() -> None:
    result = parse_success(CANCEL, _resp(200, b'{"newField": 1}'))
    assert (result.request_id, result.client_token, result.image_build_version_arn) == (
        None,
        None,
        None,
    )
    assert result.metadata.request_id is None
    assert response_to_wire(result) == {}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "expected a JSON object"),
        (b"[]", "expected a JSON object"),
        (b"null", "expected a JSON object"),
        (b"not json", "expected a JSON object"),
        (b"\xff\xfe\x00", "expected a JSON object"),
        (b'{"requestId": 5}', "field requestId should be a string, got int"),
        (b'{"clientToken": ["x"]}', "field clientToken should be a string, got list"),
    ],
)
def test_parse_success_rejects_bad_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(sib.ResponseParseError) as info:
        parse_success(CANCEL, _resp(200, body, x_amzn_requestid="rid"))
    assert reason in str(info.value)
    assert info.value.status_code == 200
    assert info.value.request_id == "rid"


def test_response_parse_error_truncates_the_excerpt() -> None:
    with pytest.raises(sib.ResponseParseError) as info:
        parse_success(CANCEL, _resp(200, b"x" * 10_000))
    assert len(info.value.excerpt) == 123
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("status", "headers", "body", "cls", "code", "message"),
    [
        (
            400,
            {"x-amzn-errortype": "InvalidRequestException:http://internal.amazon.com/x"},
            b'{"message":"m"}',
            sib.InvalidRequestException,
            "InvalidRequestException",
            "m",
        ),
        (
            400,
            {},
            b'{"code":"ClientException","Message":"M"}',
            sib.ClientException,
            "ClientException",
            "M",
        ),
        (
            400,
            {},
            b'{"Code":"ResourceInUseException"}',
            sib.ResourceInUseException,
            "ResourceInUseException",
            "",
        ),
        (
            400,
            {},
            b'{"__type":"com.amazonaws.imagebuilder#IdempotentParameterMismatchException","message":"x"}',
            sib.IdempotentParameterMismatchException,
            "IdempotentParameterMismatchException",
            "x",
        ),
        (
            403,
            {"x-amzn-errortype": "aws.ns#ForbiddenException:http://x"},
            b"",
            sib.ForbiddenException,
            "ForbiddenException",
            "",
        ),
        (
            400,
            {"x-amzn-errortype": "SomethingNew"},
            b'{"message":"hi"}',
            sib.ServiceError,
            "SomethingNew",
            "hi",
        ),
        (502, {}, b"<html>Bad Gateway</html>", sib.ServiceError, "502", ""),
        (500, {}, b"", sib.ServiceError, "500", ""),
        (500, {}, b"null", sib.ServiceError, "500", ""),
        (500, {}, b"[1,2]", sib.ServiceError, "500", ""),
        (503, {}, b"\xff\xfe", sib.ServiceError, "503", ""),
        (400, {}, b'{"code": 7, "message": 9}', sib.ServiceError, "400", ""),
    ],
)
def test_parse_error_golden(
    status: int, headers: dict[str, str], body: bytes, cls: type, code: str, message: str
) -> None:
    headers = {**headers, "x-amzn-requestid": "rid-5xx"}
    err = parse_error(CANCEL, HttpResponse(status_code=status, headers=headers, body=body))
    assert type(err) is cls
    assert (err.code, err.message, err.status_code, err.request_id) == (
        code,
        message,
        status,
        "rid-5xx",
    )
    assert (
        str(err)
        == f"An error occurred ({code}) when calling the CancelImageCreation operation: {message}"
    )
    assert err.response == {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {
            "RequestId": "rid-5xx",
            "HTTPStatusCode": status,
            "HTTPHeaders": headers,
            "RetryAttempts": 0,
        },
    }


def test_parse_response_dispatches_on_status() -> None:
    assert parse_response(CANCEL, _resp(200, b"{}")).metadata.http_status_code == 200
    with pytest.raises(sib.ServiceException):
        parse_response(CANCEL, _resp(500, b"", x_amzn_errortype="ServiceException"))


def test_every_fixture_parses_to_its_modeled_class() -> None:
    seen = set()
    for fixture in load_fixtures(FIXTURES):
        reply = fixture.responses[-1]
        response = HttpResponse(
            status_code=reply.status,
            headers={k.lower(): v for k, v in reply.headers.items()},
            body=reply.body,
        )
        if reply.status == 200:
            assert parse_success(CANCEL, response).request_id
            continue
        err = parse_error(CANCEL, response)
        seen.add(type(err).__name__)
        expected = reply.headers.get("x-amzn-ErrorType", str(reply.status)).split(":")[0]
        assert err.code == expected
    assert {
        "ServiceException",
        "ClientException",
        "ServiceUnavailableException",
        "InvalidRequestException",
        "IdempotentParameterMismatchException",
        "ForbiddenException",
        "CallRateLimitExceededException",
        "ResourceInUseException",
        "ServiceError",
    } <= seen
