"""Operations as data: what each call sends, accepts and answers.

An :class:`Operation` is everything the generic pipeline (``_protocol`` to
serialize and parse, ``_flow.call_flow`` to sign, send and retry) needs to
know about one API call, taken from the service model: its HTTP method and
path, where each input member goes and what it must look like, which member
is the idempotency token, how a reply becomes the output class, and the
errors it may raise. Wire names live here and in ``_protocol``, nowhere else.

Adding an operation costs a spec here, its models in ``_models``, and one
method pair on the clients.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar

import attrs

from ._errors import (
    CallRateLimitExceededException,
    ClientException,
    ForbiddenException,
    IdempotentParameterMismatchException,
    InvalidRequestException,
    ParamValidationError,
    ResourceInUseException,
    ServiceError,
    ServiceException,
    ServiceUnavailableException,
)
from ._models import (
    Ami,
    CancelImageCreationResponse,
    Container,
    GetImageResponse,
    Image,
    ImageState,
    LatestVersionReferences,
    OutputResources,
    ResponseMetadata,
    freeze,
    thaw,
)
from ._text import encodes_as_utf8

OutputT = TypeVar("OutputT")


class ShapeError(Exception):
    """A reply's field has a type the service model does not allow.

    Internal: ``_protocol.parse_success`` turns it into ``ResponseParseError``.
    """


@attrs.frozen(kw_only=True)
class Member:
    """One input member of an operation, with the service model's rules.

    Attributes:
        name: the Python parameter name (snake_case), used in error messages.
        wire: the member's name on the wire.
        location: ``"body"`` (a JSON object member) or ``"query"`` (a query-string parameter).
        required: a value must be given.
        pattern: the value must fully match this pattern.
        min_length: the value's minimum length in characters.
        max_length: the value's maximum length in characters.
        idempotency_token: when omitted, the call fills it with a fresh token
            (``CallContext.new_token``) that every retry reuses.
    """

    name: str
    wire: str
    location: Literal["body", "query"]
    required: bool = True
    pattern: re.Pattern[str] | None = None
    min_length: int | None = None
    max_length: int | None = None
    idempotency_token: bool = False

    def validate(self, value: object) -> None:
        """Check ``value`` against this member's rules.

        Raises:
            ParamValidationError: a missing required value, a non-str, a
                value UTF-8 cannot encode, a pattern or length violation.
                The message names the member.
        """
        if value is None and not self.required:
            return
        if not isinstance(value, str):
            raise ParamValidationError(
                self.name, f"must be a str, not {type(value).__name__}", value
            )
        # A lone surrogate (os.environ's escape for bytes that are not UTF-8)
        # may match a pattern's [^:] yet cannot be sent: quote() and the
        # signer would raise UnicodeEncodeError mid-call.
        if not encodes_as_utf8(value):
            raise ParamValidationError(
                self.name, "must be encodable as UTF-8 (it contains a lone surrogate)", value
            )
        # re's $ accepts a trailing newline; fullmatch does not.
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            raise ParamValidationError(self.name, f"must match {self.pattern.pattern}", value)
        low = 0 if self.min_length is None else self.min_length
        high = len(value) if self.max_length is None else self.max_length
        if not low <= len(value) <= high:
            raise ParamValidationError(
                self.name,
                f"length must be between {low} and {high} characters, got {len(value)}",
                value,
            )


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
    """

    name: str
    method: str
    path: str
    members: tuple[Member, ...]
    output_type: type[OutputT]
    output: Callable[[Mapping[str, Any], ResponseMetadata], OutputT] = attrs.field(repr=False)
    to_wire: Callable[[OutputT], dict[str, Any]] = attrs.field(repr=False)
    errors: tuple[type[ServiceError], ...] = ()

    @property
    def idempotency_token(self) -> Member | None:
        """The member the call fills with a fresh token when omitted, if any."""
        return next((m for m in self.members if m.idempotency_token), None)


def _wrong(path: str, expected: str, value: object) -> ShapeError:
    return ShapeError(f"field {path} should be {expected}, got {type(value).__name__}")


def _str(data: Mapping[str, Any], wire: str, prefix: str = "") -> str | None:
    value = data.get(wire)
    if value is not None and not isinstance(value, str):
        raise _wrong(prefix + wire, "a string", value)
    return value


def _obj(data: Mapping[str, Any], wire: str, prefix: str = "") -> Mapping[str, Any] | None:
    value = data.get(wire)
    if value is not None and not isinstance(value, Mapping):
        raise _wrong(prefix + wire, "an object", value)
    return value


def _list(data: Mapping[str, Any], wire: str, prefix: str = "") -> tuple[Any, ...]:
    value = data.get(wire)
    if value is None:
        return ()
    if not isinstance(value, tuple):
        raise _wrong(prefix + wire, "an array", value)
    return value


def _objects(data: Mapping[str, Any], wire: str, prefix: str) -> list[Mapping[str, Any]]:
    items = _list(data, wire, prefix)
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise _wrong(f"{prefix}{wire}[{index}]", "an object", item)
    return list(items)


def _state(data: Mapping[str, Any], prefix: str) -> ImageState | None:
    state = _obj(data, "state", prefix)
    if state is None:
        return None
    return ImageState(
        status=_str(state, "status", prefix + "state."),
        reason=_str(state, "reason", prefix + "state."),
    )


def _output_resources(image: Mapping[str, Any]) -> OutputResources | None:
    resources = _obj(image, "outputResources", "image.")
    if resources is None:
        return None
    prefix = "image.outputResources."
    amis = tuple(
        Ami(
            region=_str(ami, "region", f"{prefix}amis[{i}]."),
            image_id=_str(ami, "image", f"{prefix}amis[{i}]."),
            name=_str(ami, "name", f"{prefix}amis[{i}]."),
            description=_str(ami, "description", f"{prefix}amis[{i}]."),
            account_id=_str(ami, "accountId", f"{prefix}amis[{i}]."),
            state=_state(ami, f"{prefix}amis[{i}]."),
        )
        for i, ami in enumerate(_objects(resources, "amis", prefix))
    )
    containers = []
    for i, container in enumerate(_objects(resources, "containers", prefix)):
        where = f"{prefix}containers[{i}]."
        uris = _list(container, "imageUris", where)
        for j, uri in enumerate(uris):
            if not isinstance(uri, str):
                raise _wrong(f"{where}imageUris[{j}]", "a string", uri)
        containers.append(Container(region=_str(container, "region", where), image_uris=uris))
    return OutputResources(amis=amis, containers=tuple(containers))


def _tags(image: Mapping[str, Any]) -> Mapping[str, str] | None:
    tags = _obj(image, "tags", "image.")
    if tags is not None:
        for key, value in tags.items():
            if not isinstance(value, str):
                raise _wrong(f"image.tags[{key!r}]", "a string", value)
    return tags


def _image(image: Mapping[str, Any]) -> Image:
    def text(wire: str) -> str | None:
        return _str(image, wire, "image.")

    return Image(
        arn=text("arn"),
        name=text("name"),
        version=text("version"),
        type=text("type"),
        platform=text("platform"),
        os_version=text("osVersion"),
        state=_state(image, "image."),
        date_created=text("dateCreated"),
        build_type=text("buildType"),
        image_source=text("imageSource"),
        source_pipeline_arn=text("sourcePipelineArn"),
        output_resources=_output_resources(image),
        tags=_tags(image),
        raw=image,
    )


def _get_image_output(data: Mapping[str, Any], metadata: ResponseMetadata) -> GetImageResponse:
    data = freeze(data)
    image = _obj(data, "image")
    refs = _obj(data, "latestVersionReferences")
    latest = None
    if refs is not None:
        where = "latestVersionReferences."
        latest = LatestVersionReferences(
            latest_version_arn=_str(refs, "latestVersionArn", where),
            latest_major_version_arn=_str(refs, "latestMajorVersionArn", where),
            latest_minor_version_arn=_str(refs, "latestMinorVersionArn", where),
            latest_patch_version_arn=_str(refs, "latestPatchVersionArn", where),
        )
    return GetImageResponse(
        request_id=_str(data, "requestId"),
        image=None if image is None else _image(image),
        latest_version_references=latest,
        metadata=metadata,
    )


def _get_image_to_wire(response: GetImageResponse) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    if response.request_id is not None:
        wire["requestId"] = response.request_id
    if response.image is not None:
        wire["image"] = thaw(response.image.raw)
    refs = response.latest_version_references
    if refs is not None:
        wire["latestVersionReferences"] = {
            key: value
            for key, value in (
                ("latestVersionArn", refs.latest_version_arn),
                ("latestMajorVersionArn", refs.latest_major_version_arn),
                ("latestMinorVersionArn", refs.latest_minor_version_arn),
                ("latestPatchVersionArn", refs.latest_patch_version_arn),
            )
            if value is not None
        }
    return wire


def _cancel_output(
    data: Mapping[str, Any], metadata: ResponseMetadata
) -> CancelImageCreationResponse:
    return CancelImageCreationResponse(
        request_id=_str(data, "requestId"),
        client_token=_str(data, "clientToken"),
        image_build_version_arn=_str(data, "imageBuildVersionArn"),
        metadata=metadata,
    )


def _cancel_to_wire(response: CancelImageCreationResponse) -> dict[str, Any]:
    wire = {
        "requestId": response.request_id,
        "clientToken": response.client_token,
        "imageBuildVersionArn": response.image_build_version_arn,
    }
    return {k: v for k, v in wire.items() if v is not None}


#: The service model's ``ImageBuildVersionArn``: a build version, no wildcards.
IMAGE_BUILD_VERSION_ARN = re.compile(
    r"^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws(?:-[a-z-]+)?):"
    r"image/[a-z0-9-_]+/[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$"
)
#: The service model's ``ImageVersionArnOrBuildVersionArn``: a build version,
#: or a version that may use ``x`` wildcards (``.../image/name/1.x.x``).
IMAGE_VERSION_ARN_OR_BUILD_VERSION_ARN = re.compile(
    r"^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws(?:-[a-z-]+)?):"
    r"image/[a-z0-9-_]+/(?:(?:([0-9]+|x)\.([0-9]+|x)\.([0-9]+|x))|"
    r"(?:[0-9]+\.[0-9]+\.[0-9]+/[0-9]+))$"
)
#: The service model's ``ClientToken``: 1 to 64 characters.
CLIENT_TOKEN_MIN = 1
CLIENT_TOKEN_MAX = 64

CANCEL_IMAGE_CREATION: Operation[CancelImageCreationResponse] = Operation(
    name="CancelImageCreation",
    method="PUT",
    path="/CancelImageCreation",
    members=(
        Member(
            name="image_build_version_arn",
            wire="imageBuildVersionArn",
            location="body",
            pattern=IMAGE_BUILD_VERSION_ARN,
        ),
        Member(
            name="client_token",
            wire="clientToken",
            location="body",
            min_length=CLIENT_TOKEN_MIN,
            max_length=CLIENT_TOKEN_MAX,
            idempotency_token=True,
        ),
    ),
    output_type=CancelImageCreationResponse,
    output=_cancel_output,
    to_wire=_cancel_to_wire,
    errors=(
        ServiceException,
        ClientException,
        ServiceUnavailableException,
        InvalidRequestException,
        IdempotentParameterMismatchException,
        ForbiddenException,
        CallRateLimitExceededException,
        ResourceInUseException,
    ),
)

GET_IMAGE: Operation[GetImageResponse] = Operation(
    name="GetImage",
    method="GET",
    path="/GetImage",
    members=(
        Member(
            name="image_build_version_arn",
            wire="imageBuildVersionArn",
            location="query",
            pattern=IMAGE_VERSION_ARN_OR_BUILD_VERSION_ARN,
        ),
    ),
    output_type=GetImageResponse,
    output=_get_image_output,
    to_wire=_get_image_to_wire,
    errors=(
        ServiceException,
        ClientException,
        ServiceUnavailableException,
        InvalidRequestException,
        ForbiddenException,
        CallRateLimitExceededException,
    ),
)

#: Every operation by name, for the CLI and the testing kit to route through.
OPERATIONS: Mapping[str, Operation[Any]] = MappingProxyType(
    {op.name: op for op in (CANCEL_IMAGE_CREATION, GET_IMAGE)}
)


def find_operation(method: str, path: str) -> Operation[Any] | None:
    """The operation served at ``method`` and ``path`` (no query), or ``None``.

    For code that sees requests rather than calls (a stand-in, a recorder).

    Example:
        >>> find_operation("GET", "/GetImage").name
        'GetImage'
        >>> find_operation("POST", "/GetImage") is None
        True
    """
    return next(
        (op for op in OPERATIONS.values() if op.method == method.upper() and op.path == path),
        None,
    )
