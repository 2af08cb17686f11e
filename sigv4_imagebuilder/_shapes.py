"""The types operations are written in: input members with the model's rules, and reply readers.

An :class:`Operation` is everything the generic pipeline (``_protocol`` to
serialize and parse, ``_flow.call_flow`` to sign, send and retry) needs to know
about one API call. The specs themselves are in ``_operations``; how a reply's
JSON becomes a model is in ``_outputs``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Generic, Literal, TypeVar

import attrs

from ._errors import ParamValidationError, ServiceError
from ._models import ResponseMetadata
from ._text import encodes_as_utf8

OutputT = TypeVar("OutputT")


class ShapeError(Exception):
    """A reply's field has a type the service model does not allow.

    Internal: ``_protocol.parse_success`` turns it into ``ResponseParseError``.
    """


#: A filter's name, as the model's ``FilterName``.
FILTER_NAME = re.compile(r"^[a-zA-Z]{1,1024}$")


def _check_string(name: str, value: object, pattern: re.Pattern[str] | None,
                  low: int | None, high: int | None) -> str:  # fmt: skip
    if not isinstance(value, str):
        raise ParamValidationError(name, f"must be a str, not {type(value).__name__}", value)
    # A lone surrogate (os.environ's escape for bytes that are not UTF-8)
    # may match a pattern's [^:] yet cannot be sent: quote() and the
    # signer would raise UnicodeEncodeError mid-call.
    if not encodes_as_utf8(value):
        raise ParamValidationError(
            name, "must be encodable as UTF-8 (it contains a lone surrogate)", value
        )
    # re's $ accepts a trailing newline; fullmatch does not.
    if pattern is not None and pattern.fullmatch(value) is None:
        raise ParamValidationError(name, f"must match {pattern.pattern}", value)
    low = 0 if low is None else low
    high = len(value) if high is None else high
    if not low <= len(value) <= high:
        raise ParamValidationError(
            name, f"length must be between {low} and {high} characters, got {len(value)}", value
        )
    return value


@attrs.frozen(kw_only=True)
class Member:
    """One input member of an operation, with the service model's rules.

    Attributes:
        name: the Python parameter name (snake_case), used in error messages.
        wire: the member's name on the wire.
        location: ``"body"`` (a JSON object member) or ``"query"`` (a query-string parameter).
        kind: ``"string"``; ``"integer"`` (bounded by ``minimum`` and ``maximum``);
            or ``"filters"``, a mapping of filter name to values, sent as the
            model's list of ``{"name", "values"}`` (names in ``filter_names``).
        required: a value must be given.
        pattern: a string must fully match this pattern.
        min_length: a string's (or the filters' count's) minimum.
        max_length: a string's (or the filters' count's) maximum.
        minimum: an integer's least value.
        maximum: an integer's greatest value.
        filter_names: the documented filter names (others are refused: the
            service would refuse them after a round trip).
        idempotency_token: when omitted, the call fills it with a fresh token
            (``CallContext.new_token``) that every retry reuses.
    """

    name: str
    wire: str
    location: Literal["body", "query"]
    kind: Literal["string", "integer", "filters"] = "string"
    required: bool = True
    pattern: re.Pattern[str] | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    filter_names: frozenset[str] = frozenset()
    idempotency_token: bool = False

    def validate(self, value: object) -> object:
        """Check ``value`` against this member's rules; return it as the wire has it.

        Raises:
            ParamValidationError: a missing required value, a value of the wrong
                type, a value UTF-8 cannot encode, a pattern, length or bound
                violation. The message names the member.
        """
        if value is None and not self.required:
            return None
        if self.kind == "integer":
            return self._integer(value)
        if self.kind == "filters":
            return self._filters(value)
        return _check_string(self.name, value, self.pattern, self.min_length, self.max_length)

    def _integer(self, value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ParamValidationError(
                self.name, f"must be an int, not {type(value).__name__}", value
            )
        low = self.minimum if self.minimum is not None else value
        high = self.maximum if self.maximum is not None else value
        if not low <= value <= high:
            raise ParamValidationError(self.name, f"must be from {low} to {high}", value)
        return value

    def _filters(self, value: object) -> list[dict[str, Any]]:
        if not isinstance(value, Mapping):
            raise ParamValidationError(
                self.name,
                'must be a mapping of filter name to values, such as {"name": ["web"]}',
                type(value).__name__,
            )
        low, high = self.min_length or 0, self.max_length or len(value)
        if not low <= len(value) <= high:
            raise ParamValidationError(self.name, f"must hold {low} to {high} filters", len(value))
        wire = []
        for key, values in value.items():
            where = f"{self.name}[{key!r}]"
            _check_string(self.name, key, FILTER_NAME, 1, 1024)
            if self.filter_names and key not in self.filter_names:
                known = ", ".join(sorted(self.filter_names))
                raise ParamValidationError(self.name, f"names a filter other than {known}", key)
            if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
                raise ParamValidationError(where, "must be a list of str", type(values).__name__)
            if not 1 <= len(values) <= 10:
                raise ParamValidationError(where, "must hold 1 to 10 values", len(values))
            checked = [_check_string(where, v, None, 1, 1024) for v in values]
            wire.append({"name": key, "values": checked})
        return wire


@attrs.frozen(kw_only=True)
class Paginator:
    """How an operation pages, as botocore's ``paginators-1.json`` says.

    Attributes:
        input_token: the member that carries the token to the next page.
        limit: the member that sets the page's size.
        items: the result's items (the model's ``result_key``).
        output_token: the result's token for the next page, or ``None``.
        wire_token: the token's name on the wire, in and out.
        wire_items: the result key's name on the wire.
        non_aggregate: the reply's other keys a merged listing keeps from the
            first page (botocore's ``non_aggregate_keys``), as the AWS CLI prints them.
    """

    input_token: str
    limit: str
    items: Callable[[Any], tuple[Any, ...]] = attrs.field(repr=False)
    output_token: Callable[[Any], str | None] = attrs.field(repr=False)
    wire_token: str
    wire_items: str
    non_aggregate: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Operation(Generic[OutputT]):
    """One API operation, as data.

    Attributes:
        name: the operation's name, such as ``"GetImage"``; errors quote it.
        method: the HTTP method.
        path: the request path, appended to the endpoint URL.
        members: the input members, in the order they are serialized.
        output_type: the class of the result.
        output: builds the result from the reply's JSON object and the
            exchange's metadata; raises :class:`ShapeError` on a wrong-typed field.
        to_wire: the result as the service spells it (what the AWS CLI prints).
        errors: the modeled errors the service model lists for the operation.
        paginator: how the operation pages, for those that do.
        summary: what the call does, in a line: the command's help.
    """

    name: str
    method: str
    path: str
    members: tuple[Member, ...]
    output_type: type[OutputT]
    output: Callable[[Mapping[str, Any], ResponseMetadata], OutputT] = attrs.field(repr=False)
    to_wire: Callable[[OutputT], dict[str, Any]] = attrs.field(repr=False)
    errors: tuple[type[ServiceError], ...] = ()
    paginator: Paginator | None = None
    summary: str = ""

    @property
    def idempotency_token(self) -> Member | None:
        """The member the call fills with a fresh token when omitted, if any."""
        return next((m for m in self.members if m.idempotency_token), None)
