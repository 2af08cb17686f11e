"""The REST-JSON protocol of CancelImageCreation: validate, serialize, parse.

Pure functions of plain data: no I/O, no clock, no environment. Wire names
(``imageBuildVersionArn``) live here and nowhere else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ._errors import (
    MODELED_ERRORS,
    ParamValidationError,
    ResponseParseError,
    ServiceError,
)
from ._http import HttpRequest, HttpResponse
from ._models import CancelImageCreationResponse, ResponseMetadata

#: From the service model's ``ImageBuildVersionArn`` shape.
ARN_PATTERN = re.compile(
    r"^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws(?:-[a-z-]+)?):"
    r"image/[a-z0-9-_]+/[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$"
)
#: From the service model's ``ClientToken`` shape.
CLIENT_TOKEN_MIN = 1
CLIENT_TOKEN_MAX = 64

REQUEST_PATH = "/CancelImageCreation"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def validate_params(image_build_version_arn: object, client_token: object) -> None:
    """Check the call's parameters against the service model.

    Raises:
        ParamValidationError: a parameter is missing, of the wrong type,
            breaks the ARN pattern or the token's length limits.

    Example:
        >>> validate_params(
        ...     "arn:aws:imagebuilder:us-east-1:123456789012:image/x/1.0.0/1", "t")
        >>> validate_params("nope", "t")
        Traceback (most recent call last):
        ...
        sigv4_imagebuilder._errors.ParamValidationError: Invalid parameter ...: must match ...
    """
    if not isinstance(image_build_version_arn, str):
        raise ParamValidationError(
            "image_build_version_arn",
            f"must be a str, not {type(image_build_version_arn).__name__}",
            image_build_version_arn,
        )
    # re's $ accepts a trailing newline; fullmatch does not.
    if ARN_PATTERN.fullmatch(image_build_version_arn) is None:
        raise ParamValidationError(
            "image_build_version_arn",
            f"must match {ARN_PATTERN.pattern}",
            image_build_version_arn,
        )
    if not isinstance(client_token, str):
        raise ParamValidationError(
            "client_token",
            f"must be a str, not {type(client_token).__name__}",
            client_token,
        )
    if not CLIENT_TOKEN_MIN <= len(client_token) <= CLIENT_TOKEN_MAX:
        raise ParamValidationError(
            "client_token",
            f"length must be between {CLIENT_TOKEN_MIN} and {CLIENT_TOKEN_MAX} "
            f"characters, got {len(client_token)}",
            client_token,
        )


def serialize_body(image_build_version_arn: str, client_token: str) -> bytes:
    """Return the JSON body: exactly ``imageBuildVersionArn`` and ``clientToken``."""
    return json.dumps(
        {"imageBuildVersionArn": image_build_version_arn, "clientToken": client_token},
        separators=(",", ":"),
    ).encode()


def host_header(url: str) -> str:
    """Return the ``Host`` value for ``url``: lower-case host, port only if not default."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{port}"
    return host


def build_request(endpoint_url: str, body: bytes) -> HttpRequest:
    """Build the unsigned ``PUT /CancelImageCreation`` request.

    The headers are the ones SigV4 signs (``host``, ``content-type``); the
    signer adds ``x-amz-date`` and the token, the client adds unsigned ones.

    Example:
        >>> r = build_request("https://imagebuilder.us-east-1.amazonaws.com", b"{}")
        >>> r.method, r.url
        ('PUT', 'https://imagebuilder.us-east-1.amazonaws.com/CancelImageCreation')
        >>> r.headers
        (('Host', 'imagebuilder.us-east-1.amazonaws.com'), ('Content-Type', 'application/json'))
    """
    url = endpoint_url.rstrip("/") + REQUEST_PATH
    return HttpRequest(
        method="PUT",
        url=url,
        headers=(("Host", host_header(url)), ("Content-Type", "application/json")),
        body=body,
    )


def _load_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return None
    except RecursionError:  # a hostile `[[[...]]]` nested deeper than the parser's stack
        return None


def parse_success(response: HttpResponse, retry_attempts: int = 0) -> CancelImageCreationResponse:
    """Turn a 2xx reply into a CancelImageCreationResponse.

    Raises:
        ResponseParseError: the body is not a JSON object, or a field has the wrong type.
    """
    request_id = response.headers.get("x-amzn-requestid")
    data = _load_json(response.body)
    if not isinstance(data, dict):
        raise ResponseParseError(
            response.body_problem or "expected a JSON object",
            status_code=response.status_code,
            body=response.body,
            request_id=request_id,
        )
    fields: dict[str, str | None] = {}
    for wire, name in (
        ("requestId", "request_id"),
        ("clientToken", "client_token"),
        ("imageBuildVersionArn", "image_build_version_arn"),
    ):
        value = data.get(wire)
        if value is not None and not isinstance(value, str):
            raise ResponseParseError(
                f"field {wire} should be a string, got {type(value).__name__}",
                status_code=response.status_code,
                body=response.body,
                request_id=request_id,
            )
        fields[name] = value
    return CancelImageCreationResponse(
        request_id=fields["request_id"],
        client_token=fields["client_token"],
        image_build_version_arn=fields["image_build_version_arn"],
        metadata=ResponseMetadata(
            request_id=request_id,
            http_status_code=response.status_code,
            http_headers=dict(response.headers),
            retry_attempts=retry_attempts,
        ),
    )


def _clean_code(raw: str) -> str:
    # "ns#Code:http://internal.amazon.com/..." -> "Code"
    code = raw.split(":", 1)[0]
    return code.rsplit("#", 1)[-1].strip()


def _str_field(data: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def parse_error(response: HttpResponse, retry_attempts: int = 0) -> ServiceError:
    """Turn a non-2xx reply into the matching ServiceError (returned, not raised).

    The code comes from ``x-amzn-ErrorType``, then the body's ``code``/``Code``,
    then ``__type``; anything after ``:`` and before the last ``#`` is dropped.
    With no code at all (a proxy's HTML page, an empty body) the status is the
    code, as botocore does. Never fails on a strange body.

    Example:
        >>> e = parse_error(HttpResponse(status_code=429, headers={
        ...     "x-amzn-errortype": "CallRateLimitExceededException:http://internal.amazon.com/x"},
        ...     body=b'{"message":"slow down"}'))
        >>> type(e).__name__, e.code, e.message
        ('CallRateLimitExceededException', 'CallRateLimitExceededException', 'slow down')
    """
    data = _load_json(response.body)
    if not isinstance(data, dict):
        data = {}
    raw_code = (
        response.headers.get("x-amzn-errortype")
        or _str_field(data, "code", "Code")
        or _str_field(data, "__type")
        or ""
    )
    code = _clean_code(raw_code) or str(response.status_code)
    message = _str_field(data, "message", "Message") or ""
    cls = MODELED_ERRORS.get(code, ServiceError)
    return cls(
        code=code,
        message=message,
        status_code=response.status_code,
        request_id=response.headers.get("x-amzn-requestid"),
        headers=response.headers,
        retry_attempts=retry_attempts,
    )


def parse_response(response: HttpResponse, retry_attempts: int = 0) -> CancelImageCreationResponse:
    """Return the result of a 2xx reply, or raise the error a non-2xx reply carries."""
    if 200 <= response.status_code < 300:
        return parse_success(response, retry_attempts)
    raise parse_error(response, retry_attempts)


def response_to_wire(response: CancelImageCreationResponse) -> dict[str, str]:
    """Return the result as the service spells it (camelCase), omitting absent fields."""
    wire = {
        "requestId": response.request_id,
        "clientToken": response.client_token,
        "imageBuildVersionArn": response.image_build_version_arn,
    }
    return {k: v for k, v in wire.items() if v is not None}
