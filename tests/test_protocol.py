"""The sans-I/O protocol: golden data in, golden data out."""

from __future__ import annotations

import json

import pytest
from conftest import ARN, FIXTURES, TOKEN
from hypothesis import given
from hypothesis import strategies as st

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._http import HttpResponse, host_header
from sigv4_imagebuilder._operations import CANCEL_IMAGE_CREATION as CANCEL
from sigv4_imagebuilder._protocol import (
    CODE_MAX,
    JSON_MESSAGE_MAX,
    MESSAGE_MAX,
    parse_error,
    parse_response,
    parse_success,
    response_to_wire,
    serialize_request,
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
    values = {"image_build_version_arn": ARN, "client_token": TOKEN}
    body = serialize_request(CANCEL, "https://unused", values).body
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
    request = serialize_request(CANCEL, "http://127.0.0.1:9000/prefix/", {"client_token": "t"})
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
    ("status", "headers", "body", "cls", "code", "message", "top"),
    [
        (
            400,
            {"x-amzn-errortype": "InvalidRequestException:http://internal.amazon.com/x"},
            b'{"message":"m"}',
            sib.InvalidRequestException,
            "InvalidRequestException",
            "m",
            {"message": "m"},  # the modeled member, at top level as botocore puts it
        ),
        (
            400,
            {},
            b'{"code":"ClientException","Message":"M"}',
            sib.ClientException,
            "ClientException",
            "M",
            {},  # the member is "message"; "Message" only feeds Error.Message
        ),
        (
            400,
            {},
            b'{"Code":"ResourceInUseException"}',
            sib.ResourceInUseException,
            "ResourceInUseException",
            "",
            {},
        ),
        (
            400,
            {},
            b'{"__type":"com.amazonaws.imagebuilder#IdempotentParameterMismatchException","message":"x"}',
            sib.IdempotentParameterMismatchException,
            "IdempotentParameterMismatchException",
            "x",
            {"message": "x"},
        ),
        (
            403,
            {"x-amzn-errortype": "aws.ns#ForbiddenException:http://x"},
            b"",
            sib.ForbiddenException,
            "ForbiddenException",
            "Forbidden",  # an empty body gives the reason phrase (botocore: "")
            {},
        ),
        (
            400,
            {"x-amzn-errortype": "SomethingNew"},
            b'{"message":"hi"}',
            sib.ServiceError,
            "SomethingNew",
            "hi",
            {},  # no modeled shape, no modeled members
        ),
        (502, {}, b"<html>Oops</html>", sib.ServiceError, "502", "Bad Gateway", {}),
        (500, {}, b"", sib.ServiceError, "500", "Internal Server Error", {}),
        (500, {}, b"null", sib.ServiceError, "500", "null", {}),
        (500, {}, b"[1,2]", sib.ServiceError, "500", "[1,2]", {}),
        (503, {}, b"\xff\xfe", sib.ServiceError, "503", "Service Unavailable", {}),
        (400, {}, b'{"code": 7, "message": 9}', sib.ServiceError, "400", "", {}),
    ],
)
def test_parse_error_golden(
    status: int,
    headers: dict[str, str],
    body: bytes,
    cls: type,
    code: str,
    message: str,
    top: dict[str, str],
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
    assert err.modeled_fields == top
    assert err.response == {
        **top,
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {
            "RequestId": "rid-5xx",
            "HTTPStatusCode": status,
            "HTTPHeaders": headers,
            "RetryAttempts": 0,
        },
    }


_FIREWALL_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>  Request blocked &amp; logged
</title><style>body { color: red }</style></head>
<body><h1>Access denied</h1><p>Ref 42</p></body></html>"""


@pytest.mark.parametrize(
    ("status", "headers", "body", "message"),
    [
        # botocore: the reason phrase for a 5xx with an empty or HTML body.
        (502, {}, b"<html><body><b>Http/1.1 Bad Gateway</b></body></html>", "Bad Gateway"),
        (504, {}, b"  \r\n<!doctype HTML><title>x</title>", "Gateway Timeout"),
        (503, {"content-type": "text/html"}, b"<h1>down</h1>", "Service Unavailable"),
        (503, {}, b"", "Service Unavailable"),
        (503, {}, b" \r\n\t", "Service Unavailable"),
        # Any empty body gets the phrase (botocore leaves a 4xx's message empty).
        (400, {}, b"", "Bad Request"),
        (599, {}, b"", ""),  # no registered phrase
        # Otherwise the body's text, as botocore, but tidied.
        (400, {}, b"Missing header X-Foo\n", "Missing header X-Foo"),
        (500, {}, b"upstream reset\n\n  by peer", "upstream reset by peer"),
        (403, {}, _FIREWALL_PAGE, "Request blocked & logged"),
        # No title (or an empty one): the visible text, without script or style.
        (
            403,
            {},
            b"<html><head><title> </title><script>var t = '<title>no</title>';</script>"
            b"<STYLE>p{}</STYLE></head><body><p>Access&nbsp;denied</p>by policy &lt;7&gt;"
            b"<!-- internal --></body></html>",
            "Access denied by policy <7>",
        ),
        (404, {"content-type": "text/html; charset=utf-8"}, b"Not <b>here</b>", "Not here"),
        (404, {}, b"<html>a < b and c</html>", "a < b and c"),
        (404, {}, b"<html><script>never closed", "Not Found"),  # nothing shown
        # Control, escape and format characters are dropped; bad UTF-8 is replaced.
        (400, {}, b"bad\x1b[31m \x00input\xe2\x80\xae here\x7f", "bad[31m input here"),
        (400, {}, b"caf\xe9 ferm\xe9", "caf\ufffd ferm\ufffd"),
        (400, {}, b"\xff\xfe\x00", "Bad Request"),  # nothing readable left
        (400, {}, b"x" * 10_000, "x" * 200 + "..."),
        (400, {}, b'"just a JSON string"', '"just a JSON string"'),
    ],
)
def test_parse_error_message_of_a_non_json_body(
    status: int, headers: dict[str, str], body: bytes, message: str
) -> None:
    err = parse_error(CANCEL, HttpResponse(status_code=status, headers=headers, body=body))
    assert err.code == str(status)
    assert err.message == message
    assert err.response["Error"]["Message"] == message
    assert str(err).endswith(f"operation: {message}")


@pytest.mark.parametrize(
    ("status", "code", "body", "top"),
    [
        # botocore reads a non-JSON body as the shape's message: ours, tidied.
        (403, "ForbiddenException", _FIREWALL_PAGE, {"message": "Request blocked & logged"}),
        (400, "ClientException", b"no such image", {"message": "no such image"}),
        (400, "ClientException", b'{"message":""}', {"message": ""}),
        # A reason phrase is ours, not the body's: not a modeled member.
        (400, "ClientException", b"", {}),
        (503, "ServiceUnavailableException", b"<html>down</html>", {}),
        (403, "ForbiddenException", b'{"message": 7}', {}),
    ],
)
def test_modeled_fields_hold_what_the_body_said(
    status: int, code: str, body: bytes, top: dict[str, str]
) -> None:
    err = parse_error(CANCEL, _resp(status, body, x_amzn_errortype=code))
    assert type(err).__name__ == code
    assert err.modeled_fields == top
    assert {k: v for k, v in err.response.items() if k not in ("Error", "ResponseMetadata")} == top


def test_a_json_body_without_a_message_keeps_an_empty_one() -> None:
    err = parse_error(CANCEL, _resp(503, b'{"code":"ServiceUnavailableException"}'))
    assert (err.code, err.message) == ("ServiceUnavailableException", "")


@pytest.mark.parametrize(
    "body",
    [
        b"<title" * 20_000,  # no ">" ever
        b"<html>" + b"<" * 100_000,
        b"<html><title>" + b"t" * 100_000 + b"</title>",
        b"<html><script>" * 10_000,
        b"<html><p>" + "\u202e\u200b\U0001f600 ".encode() * 20_000,
        bytes(range(256)) * 400,
    ],
)
def test_a_hostile_page_gives_a_short_printable_message(body: bytes) -> None:
    err = parse_error(CANCEL, _resp(403, body, x_amzn_errortype="ForbiddenException"))
    assert type(err) is sib.ForbiddenException
    assert 0 < len(err.message) <= MESSAGE_MAX + 3
    assert err.message.isprintable()
    assert "\u202e" not in err.message and "\x1b" not in err.message


@given(status=st.integers(100, 599), body=st.binary(max_size=300) | st.text().map(str.encode))
def test_parse_error_message_is_always_bounded_and_printable(status: int, body: bytes) -> None:
    for headers in ({}, {"content-type": "text/html"}):
        err = parse_error(CANCEL, HttpResponse(status_code=status, headers=headers, body=body))
        assert len(err.message) <= MESSAGE_MAX + 3
        assert err.message.isprintable()
        assert err.message == err.message.strip()


def test_a_json_message_and_code_with_terminal_escapes_are_made_printable_and_bounded() -> None:
    # The CLI prints both: a hostile endpoint must not drive the terminal or flood it.
    body = json.dumps({"message": "ok\x1b[2J\x1b]0;pwned\x07\u202e" + "m" * 100_000}).encode()
    err = parse_error(CANCEL, _resp(400, body, x_amzn_errortype="Evil\x1b[31mCode" + "C" * 1000))
    for text in (err.message, err.code, str(err), err.response["Error"]["Message"]):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert err.message.startswith("ok[2J]0;pwned") and len(err.message) <= JSON_MESSAGE_MAX + 3
    assert err.code.startswith("Evil[31mCode") and len(err.code) <= CODE_MAX + 3
    # An ordinary message is left exactly as the service wrote it.
    plain = parse_error(CANCEL, _resp(400, b'{"message":"Image is in state: BUILDING."}'))
    assert plain.message == "Image is in state: BUILDING."


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


@pytest.mark.parametrize("status", [200, 400, 503])
def test_deeply_nested_json_is_a_typed_error(status: int) -> None:
    # 100,000 nested arrays overflow the C parser's recursion guard.
    body = b"[" * 100_000 + b"]" * 100_000
    response = HttpResponse(status_code=status, headers={}, body=body)
    if status == 200:
        with pytest.raises(sib.ResponseParseError, match="expected a JSON object"):
            parse_success(CANCEL, response)
    else:
        error = parse_error(CANCEL, response)
        assert (type(error), error.code, error.status_code) == (
            sib.ServiceError,
            str(status),
            status,
        )
