"""The list operations of LocalImageBuilder: request checks, filters, order, page tokens.

Plain functions of plain data (the held images, a request body, the server's
secret); the server takes its lock, settles the images and calls them.

Rules: ``maxResults`` defaults to 25 and must be 1 to 100; the documented
filters work (``name`` with the model's ``web*`` and ``*web*`` wildcards,
``version`` as ``X.Y.Z`` or ``X.Y.Z/BUILD``; filters AND, values OR); an
undocumented filter name, a bad ARN or an out-of-bounds member is
``InvalidRequestException``.

Order: newest ``dateCreated`` first, ties broken by ARN (descending), so pages
neither repeat nor skip while nothing changes. A page token names the last
image of its page (its date and ARN) and the request it belongs to (operation,
scoping ARN, filters), base64url-encoded and authenticated with an HMAC keyed
by the server's own random secret: a forged token, one from another server,
or one replayed with another ARN or other filters is
``InvalidPaginationTokenException``. The server keeps nothing per token.

The limits and filter names are written from the service model (imagebuilder
2019-12-02), not imported from the client library.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping

import attrs

from ._images import EXACT_VERSION_ARN, PIPELINE_ARN, Image, summary_json

DEFAULT_MAX_RESULTS = 25
_MAX_RESULTS = (1, 100)
_TOKEN_LENGTH = (1, 65_535)
_FILTERS = (1, 10)
_VALUES = (1, 10)
_FILTER_NAME = re.compile(r"[a-zA-Z]{1,1024}")
_FILTER_VALUE = re.compile(r'[0-9a-zA-Z./_ :,{}"*-]{1,1024}')
_MAC_BYTES = 16


class ListError(Exception):
    """A modeled error reply: HTTP status, ``x-amzn-ErrorType`` code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _invalid(message: str) -> ListError:
    return ListError(400, "InvalidRequestException", message)


def _bad_token(message: str) -> ListError:
    return ListError(400, "InvalidPaginationTokenException", message)


@attrs.frozen
class ListOperation:
    """One list operation: the member that scopes it, and the filters it takes."""

    name: str
    scope_member: str
    scope_pattern: re.Pattern[str]
    scope_required: bool
    filter_names: frozenset[str]
    in_scope: Callable[[Image, str], bool]


PIPELINE_IMAGES = ListOperation(
    name="ListImagePipelineImages",
    scope_member="imagePipelineArn",
    scope_pattern=PIPELINE_ARN,
    scope_required=True,
    filter_names=frozenset({"name", "version"}),
    in_scope=lambda image, arn: image.pipeline_arn == arn,
)
BUILD_VERSIONS = ListOperation(
    name="ListImageBuildVersions",
    scope_member="imageVersionArn",
    scope_pattern=EXACT_VERSION_ARN,
    scope_required=False,  # absent: every image held (the service: the whole account)
    filter_names=frozenset({"name", "osVersion", "platform", "type", "version"}),
    # A build version ARN is its version ARN plus "/BUILD".
    in_scope=lambda image, arn: image.arn.rpartition("/")[0] == arn,
)

Filters = tuple[tuple[str, tuple[str, ...]], ...]
_Key = tuple[datetime.datetime, str]


@attrs.frozen
class ListRequest:
    """A checked list request; ``after`` is the sort key of the previous page's last image."""

    operation: ListOperation
    scope: str | None
    filters: Filters
    max_results: int
    after: _Key | None


def _constraint(member: str, value: object, rule: str) -> ListError:
    return _invalid(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}"
    )


def _filters(raw: object, allowed: frozenset[str]) -> Filters:
    if raw is None:
        return ()
    low, high = _FILTERS
    if not isinstance(raw, list) or not low <= len(raw) <= high:
        raise _constraint("filters", raw, f"Member must be a list of {low} to {high} filters")
    out = []
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else None
        values = item.get("values") if isinstance(item, dict) else None
        if not isinstance(name, str) or _FILTER_NAME.fullmatch(name) is None:
            raise _constraint("filters.name", name, "Member must match [a-zA-Z]{1,1024}")
        if name not in allowed:
            raise _invalid(f"The filter name '{name}' is not valid; use one of {sorted(allowed)}.")
        low, high = _VALUES
        if not isinstance(values, list) or not low <= len(values) <= high:
            raise _constraint("filters.values", values, f"Member must have {low} to {high} values")
        for value in values:
            if not isinstance(value, str) or _FILTER_VALUE.fullmatch(value) is None:
                raise _constraint("filters.values", value, "Member must be a valid filter value")
        out.append((name, tuple(sorted(set(values)))))
    return tuple(sorted(out))


def parse_request(operation: ListOperation, body: object, secret: bytes) -> ListRequest:
    """Check a list request's JSON body; raises :class:`ListError` as the service would."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    scope = body.get(operation.scope_member)
    if scope is None and operation.scope_required:
        raise _invalid(f"{operation.scope_member} is required.")
    if scope is not None and (
        not isinstance(scope, str) or operation.scope_pattern.fullmatch(scope) is None
    ):
        raise _constraint(operation.scope_member, scope, "Member must be a valid ARN")
    max_results = body.get("maxResults")
    if max_results is None:
        max_results = DEFAULT_MAX_RESULTS
    low, high = _MAX_RESULTS
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise _constraint("maxResults", max_results, "Member must be an integer")
    if not low <= max_results <= high:
        raise _constraint(
            "maxResults", max_results, f"Member must have value between {low} and {high}"
        )
    filters = _filters(body.get("filters"), operation.filter_names)
    request = ListRequest(
        operation=operation, scope=scope, filters=filters, max_results=max_results, after=None
    )
    token = body.get("nextToken")
    if token is None:
        return request
    low, high = _TOKEN_LENGTH
    if not isinstance(token, str) or not low <= len(token) <= high:
        raise _constraint("nextToken", "...", f"Member must have length between {low} and {high}")
    return attrs.evolve(request, after=_read_token(token, request, secret))


def _binding(request: ListRequest) -> dict[str, object]:
    # What a token is valid for: the same operation, ARN and filters.
    return {
        "op": request.operation.name,
        "scope": request.scope,
        "filters": [[name, list(values)] for name, values in request.filters],
    }


def _mac(payload: bytes, secret: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(request: ListRequest, last: Image, secret: bytes) -> str:
    """The ``nextToken`` that continues ``request`` after image ``last``."""
    payload = {**_binding(request), "after": [last.created.isoformat(), last.arn]}
    data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(data)}.{_b64(_mac(data, secret))}"


def _read_token(token: str, request: ListRequest, secret: bytes) -> _Key:
    data_part, _, mac_part = token.partition(".")
    try:
        data, mac = _unb64(data_part), _unb64(mac_part)
    except (binascii.Error, ValueError):
        raise _bad_token("The pagination token is not valid.") from None
    if not hmac.compare_digest(mac, _mac(data, secret)):
        raise _bad_token("The pagination token is not valid.")
    payload = json.loads(data)  # authentic: this server wrote it
    if {k: payload.get(k) for k in ("op", "scope", "filters")} != _binding(request):
        raise _bad_token("The pagination token was issued for a different request.")
    created, arn = payload["after"]
    return datetime.datetime.fromisoformat(created), arn


def _name_matches(name: str, wanted: str) -> bool:
    # The model: "web*" matches names that begin with web, "*web*" names that
    # contain it; a wildcard anywhere else (or in another filter) is a literal.
    if len(wanted) >= 2 and wanted.startswith("*") and wanted.endswith("*"):
        return wanted[1:-1] in name
    if wanted.endswith("*"):
        return name.startswith(wanted[:-1])
    return name == wanted


def _matches(image: Image, filters: Filters) -> bool:
    summary: Mapping[str, object] | None = None
    for name, values in filters:  # filters AND, values OR
        if name == "name":
            ok = any(_name_matches(image.parts["name"], v) for v in values)
        elif name == "version":  # X.Y.Z, or X.Y.Z/BUILD as ImageSummary.version reads
            ok = image.semantic_version in values or image.arn.split("/", 2)[2] in values
        else:
            summary = summary or summary_json(image)
            ok = summary.get(name) in values
        if not ok:
            return False
    return True


def page(
    request: ListRequest, images: Iterable[Image], secret: bytes
) -> tuple[list[Image], str | None]:
    """The images of the requested page, and the token of the next one (None at the end)."""
    after = request.after
    chosen = sorted(
        (
            image
            for image in images
            if (after is None or (image.created, image.arn) < after)
            and _matches(image, request.filters)
        ),
        key=lambda image: (image.created, image.arn),
        reverse=True,
    )
    if len(chosen) <= request.max_results:
        return chosen, None
    chosen = chosen[: request.max_results]
    return chosen, make_token(request, chosen[-1], secret)
