"""The REST-JSON protocol, for any operation spec: validate, serialize, parse.

Pure functions of plain data: no I/O, no clock, no environment. What differs
between operations (method, path, members, output) comes from their
:class:`~._operations.Operation`; the rules here are the protocol's own.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from ._errors import (
    MODELED_ERRORS,
    ParamValidationError,
    ResponseParseError,
    ServiceError,
)
from ._http import HttpRequest, HttpResponse, host_header
from ._models import ResponseMetadata
from ._operations import OPERATIONS
from ._shapes import Operation, ShapeError
from ._text import printable

OutputT = TypeVar("OutputT")


def validate_input(
    operation: Operation[Any],
    params: Mapping[str, object],
    new_token: Callable[[], str] | None = None,
) -> dict[str, object]:
    """Check ``params`` (snake_case names) against the operation's members.

    An omitted idempotency token is filled with ``new_token()`` first.

    Returns:
        The values to send, by member name, as the wire has them (filters as
        the model's list of ``{"name", "values"}``); optional members left out
        are absent.

    Raises:
        ParamValidationError: an unknown parameter, or a member breaks a rule
            of the service model.

    Example:
        >>> from sigv4_imagebuilder._operations import GET_IMAGE
        >>> validate_input(GET_IMAGE, {"image_build_version_arn": "nope"})
        Traceback (most recent call last):
        ...
        sigv4_imagebuilder._errors.ParamValidationError: Invalid parameter ...: must match ...
    """
    names = {member.name for member in operation.members}
    for name in params:
        if name not in names:
            raise ParamValidationError(name, f"is not a parameter of {operation.name}", name)
    values: dict[str, object] = {}
    for member in operation.members:
        value = params.get(member.name)
        if value is None and member.idempotency_token and new_token is not None:
            value = new_token()
        checked = member.validate(value)
        if checked is not None:
            values[member.name] = checked
    return values


#: Compact JSON, as json.dumps(..., separators=(",", ":")) writes it; one
#: encoder for every call instead of a new one per dumps() with separators.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def _quote(value: str) -> str:
    # As botocore's rest-json serializer: everything but unreserved characters
    # is percent-encoded, ':' and '/' included. SigV4 signs this exact string.
    return quote(value, safe="-_.~")


@functools.lru_cache(maxsize=16)
def _host_header(endpoint_url: str) -> str:
    # Parsing the endpoint is a visible share of a call; its Host value
    # depends only on the endpoint, not the path or query.
    return host_header(endpoint_url)


def serialize_request(
    operation: Operation[Any], endpoint_url: str, values: Mapping[str, object]
) -> HttpRequest:
    """Build the unsigned request for validated ``values``.

    Body members form a compact JSON object in member order, sent with
    ``Content-Type: application/json``; query members are percent-encoded
    into the query string. An operation with no body members sends no body
    and no ``Content-Type``. The headers are those SigV4 signs; the signer
    adds ``X-Amz-Date`` and the token, the flow adds unsigned ones.

    Example:
        >>> from sigv4_imagebuilder._operations import GET_IMAGE
        >>> r = serialize_request(GET_IMAGE, "https://ib.example",
        ...     {"image_build_version_arn": "arn:aws:imagebuilder:us-east-1:aws:image/x/1.x.x"})
        >>> r.method, r.body, r.headers
        ('GET', b'', (('Host', 'ib.example'),))
        >>> r.url.split("?")[1]
        'imageBuildVersionArn=arn%3Aaws%3Aimagebuilder%3Aus-east-1%3Aaws%3Aimage%2Fx%2F1.x.x'
    """
    url = endpoint_url.rstrip("/") + operation.path
    query = [
        f"{_quote(m.wire)}={_quote(str(values[m.name]))}"
        for m in operation.members
        if m.location == "query" and m.name in values
    ]
    if query:
        url += "?" + "&".join(query)
    headers: tuple[tuple[str, str], ...] = (("Host", _host_header(endpoint_url)),)
    body = b""
    body_members = [m for m in operation.members if m.location == "body"]
    if body_members:
        body = _COMPACT_JSON.encode(
            {m.wire: values[m.name] for m in body_members if m.name in values}
        ).encode()
        headers += (("Content-Type", "application/json"),)
    return HttpRequest(method=operation.method, url=url, headers=headers, body=body)


def _load_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; absurd nesting
    # is a RecursionError.
    except (ValueError, RecursionError):
        return None


def parse_success(
    operation: Operation[OutputT], response: HttpResponse, retry_attempts: int = 0
) -> OutputT:
    """Turn a 2xx reply into the operation's output.

    Unknown fields are ignored (GetImage keeps them in ``Image.raw``); a
    missing field is ``None``.

    Raises:
        ResponseParseError: the body is not a JSON object, or a field the
            model types has another type.
    """
    request_id = response.headers.get("x-amzn-requestid")
    data = _load_json(response.body)
    reason = response.body_problem or "expected a JSON object"
    if isinstance(data, dict):
        metadata = ResponseMetadata(
            request_id=request_id,
            http_status_code=response.status_code,
            http_headers=dict(response.headers),
            retry_attempts=retry_attempts,
        )
        try:
            return operation.output(data, metadata)
        except ShapeError as exc:
            reason = str(exc)
        except RecursionError:
            reason = "the JSON object is nested too deeply"
    raise ResponseParseError(
        reason, status_code=response.status_code, body=response.body, request_id=request_id
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


#: Longest message taken from a reply that is not a JSON error document.
MESSAGE_MAX = 200
#: The most characters kept of a JSON body's message and of an error code:
#: what the service sends is far shorter; a hostile endpoint's is cut.
JSON_MESSAGE_MAX = 2048
CODE_MAX = 128
#: How much of such a body is read to find it (bytes).
_SCAN_MAX = 16 * 1024
#: Elements whose content a browser does not show.
_HIDDEN_ELEMENTS = frozenset({"script", "style"})


def _text_message(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    # The message of a body that is not a JSON object (a proxy's page, a
    # firewall's, plain text), as botocore takes the body text, but made short
    # and printable: a page's <title> (else its visible text), whitespace
    # collapsed, control and format characters (escapes, bidi overrides)
    # dropped, cut at MESSAGE_MAX. None when nothing readable is left, and
    # for a 5xx page, which botocore treats as a generic stock page.
    text = body[:_SCAN_MAX].decode("utf-8", errors="replace")
    head = text[:64].lstrip("\ufeff \t\r\n").lower()
    if "html" in headers.get("content-type", "").lower() or head.startswith(
        ("<!doctype html", "<html")
    ):
        if status >= 500:
            return None
        import html  # only a non-JSON error page needs it

        # Splitting at "<" keeps this linear whatever the markup (no regex
        # backtracking on a hostile page).
        pieces = text.split("<")
        shown = [pieces[0]]
        hidden = ""  # the element being skipped until its end tag
        for piece in pieces[1:]:
            tag, closed, after = piece.partition(">")
            if not closed:  # a bare "<" in the text, not a tag
                if not hidden:
                    shown.append("<" + piece)
                continue
            name = tag.split(None, 1)[0].lower() if tag.strip() else ""
            if hidden:
                if name == "/" + hidden:
                    hidden = ""
                    shown.append(" " + after)
            elif name in _HIDDEN_ELEMENTS:
                hidden = name
            elif name == "title" and after.strip():
                shown = [after]
                break
            else:
                shown.append(" " + after)
        text = html.unescape("".join(shown))
    text = printable(text, MESSAGE_MAX)
    if not text.replace("\ufffd", "").strip():
        return None
    return text


def parse_error(operation: Operation[Any], response: HttpResponse) -> ServiceError:
    """Turn a non-2xx reply into the matching ServiceError (returned, not raised).

    The code comes from ``x-amzn-ErrorType``, then the body's ``code``/``Code``,
    then ``__type``; anything after ``:`` and before the last ``#`` is dropped.
    With no code at all (a proxy's HTML page, an empty body) the status is the
    code, as botocore does.

    The message is the JSON body's ``message``/``Message``. A body that is not
    a JSON object gives its text instead, as botocore does, but bounded and
    printable: an HTML page's ``<title>`` (else its visible text), whitespace
    collapsed, control characters dropped, at most :data:`MESSAGE_MAX`
    characters plus ``"..."``. An empty body, and a 5xx HTML page (a proxy's
    or load balancer's stock page), give the HTTP reason phrase ("Bad
    Gateway"). Never fails on a strange body. Its ``retry_attempts`` is 0:
    the retry state stamps the count when it gives up.

    A modeled error keeps the body's ``message`` in ``modeled_fields`` (as
    botocore's ``e.response["message"]``); a reason phrase is not put there.

    Example:
        >>> from sigv4_imagebuilder._operations import GET_IMAGE
        >>> e = parse_error(GET_IMAGE, HttpResponse(status_code=429, headers={
        ...     "x-amzn-errortype": "CallRateLimitExceededException:http://internal.amazon.com/x"},
        ...     body=b'{"message":"slow down"}'))
        >>> type(e).__name__, e.code, e.message
        ('CallRateLimitExceededException', 'CallRateLimitExceededException', 'slow down')
        >>> str(e)
        'An error occurred (CallRateLimitExceededException) when calling the GetImage ...'
        >>> e = parse_error(GET_IMAGE, HttpResponse(status_code=502, headers={},
        ...     body=b"<html><body>upstream down</body></html>"))
        >>> e.code, e.message
        ('502', 'Bad Gateway')

    """
    data = _load_json(response.body)
    # What botocore would read as the error shape's ``message`` member.
    body_message: str | None
    if isinstance(data, dict):
        # Printed by the CLI and logged: a hostile endpoint's terminal escapes
        # and megabyte messages stop here.
        raw_message = data.get("message")
        body_message = (
            printable(raw_message, JSON_MESSAGE_MAX) if isinstance(raw_message, str) else None
        )
        message = printable(_str_field(data, "message", "Message") or "", JSON_MESSAGE_MAX)
    else:
        data = {}
        body_message = _text_message(response.status_code, response.headers, response.body)
        message = body_message or ""
        if not message:
            import http  # only an error without a message needs it

            try:
                message = http.HTTPStatus(response.status_code).phrase
            except ValueError:  # a status with no registered phrase
                message = ""
    raw_code = (
        response.headers.get("x-amzn-errortype")
        or _str_field(data, "code", "Code")
        or _str_field(data, "__type")
        or ""
    )
    code = printable(_clean_code(raw_code), CODE_MAX) or str(response.status_code)
    cls = MODELED_ERRORS.get(code, ServiceError)
    # Every modeled error of Image Builder has one member, ``message``;
    # botocore puts it at the top of ``e.response`` when the body has it.
    modeled = (
        {"message": body_message} if cls is not ServiceError and body_message is not None else {}
    )
    return cls(
        code=code,
        message=message,
        status_code=response.status_code,
        request_id=response.headers.get("x-amzn-requestid"),
        headers=response.headers,
        operation_name=operation.name,
        modeled_fields=modeled,
    )


def parse_response(
    operation: Operation[OutputT], response: HttpResponse, retry_attempts: int = 0
) -> OutputT:
    """Return the result of a 2xx reply, or raise the error a non-2xx reply carries."""
    if 200 <= response.status_code < 300:
        return parse_success(operation, response, retry_attempts)
    raise parse_error(operation, response)


def response_to_wire(response: object) -> dict[str, Any]:
    """Return an operation's result as the service spells it (camelCase), absent fields omitted.

    Raises:
        TypeError: ``response`` is not the result of a known operation.
    """
    for operation in OPERATIONS.values():
        if isinstance(response, operation.output_type):
            return operation.to_wire(response)
    raise TypeError(f"not an operation's result: {type(response).__name__}")
