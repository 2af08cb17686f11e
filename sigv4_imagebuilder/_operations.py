"""Operations as data: what each call sends, accepts and answers.

Each spec is an :class:`~._shapes.Operation` taken from the service model
(``imagebuilder/2019-12-02``): its HTTP method and path, where each input member
goes and what it must look like, which member is the idempotency token, how a
reply becomes the output class (``_outputs``), the errors it may raise, and how
it pages. Wire names live here, in ``_outputs`` and in ``_protocol``.

Adding an operation costs a spec here, its models (``_models``, ``_outputs``)
and its tests; the clients, the command and the docs' table follow from
:data:`OPERATIONS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ._errors import (
    CallRateLimitExceededException,
    ClientException,
    ForbiddenException,
    IdempotentParameterMismatchException,
    InvalidPaginationTokenException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
    ServiceException,
    ServiceUnavailableException,
)
from ._models import (
    CancelImageCreationResponse,
    GetImageResponse,
    ListImageBuildVersionsResponse,
    ListImagePipelineImagesResponse,
)
from ._outputs import (
    cancel_output,
    cancel_to_wire,
    get_image_output,
    get_image_to_wire,
    list_build_versions_output,
    list_pipeline_images_output,
    list_to_wire,
)
from ._shapes import Member, Operation, Paginator, ShapeError

__all__ = ["OPERATIONS", "Member", "Operation", "Paginator", "ShapeError", "find_operation"]


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
    summary="cancel the creation of an image that is not in a terminal state",
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
    output=cancel_output,
    to_wire=cancel_to_wire,
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
    summary="get an image's details, its state among them",
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
    output=get_image_output,
    to_wire=get_image_to_wire,
    errors=(
        ServiceException,
        ClientException,
        ServiceUnavailableException,
        InvalidRequestException,
        ForbiddenException,
        CallRateLimitExceededException,
    ),
)


#: The service model's ``ImagePipelineArn``.
IMAGE_PIPELINE_ARN = re.compile(
    r"^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws):image-pipeline/[a-z0-9-_]+$"
)
#: The service model's ``ImageVersionArn``: a version, no build number.
IMAGE_VERSION_ARN = re.compile(
    r"^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws(?:-[a-z-]+)?):"
    r"image/[a-z0-9-_]+/[0-9]+\.[0-9]+\.[0-9]+$"
)


def _list_members(first: Member, filter_names: frozenset[str]) -> tuple[Member, ...]:
    return (
        first,
        Member(name="filters", wire="filters", location="body", kind="filters",
               required=False, min_length=1, max_length=10, filter_names=filter_names),
        Member(name="max_results", wire="maxResults", location="body", kind="integer",
               required=False, minimum=1, maximum=100),
        Member(name="next_token", wire="nextToken", location="body",
               required=False, min_length=1, max_length=65535),
    )  # fmt: skip


_LIST_ERRORS = (
    ServiceException,
    ClientException,
    ServiceUnavailableException,
    InvalidRequestException,
    InvalidPaginationTokenException,
    ForbiddenException,
    CallRateLimitExceededException,
)

#: botocore's paginators-1.json (and its sdk-extras) for both list operations.
_IMAGE_SUMMARIES = Paginator(
    input_token="next_token",
    limit="max_results",
    items=lambda page: page.image_summary_list,
    output_token=lambda page: page.next_token,
    wire_token="nextToken",
    wire_items="imageSummaryList",
    non_aggregate=("requestId",),
)

LIST_IMAGE_PIPELINE_IMAGES: Operation[ListImagePipelineImagesResponse] = Operation(
    name="ListImagePipelineImages",
    summary="list the images a pipeline built, every page followed and merged",
    method="POST",
    path="/ListImagePipelineImages",
    members=_list_members(
        Member(
            name="image_pipeline_arn",
            wire="imagePipelineArn",
            location="body",
            pattern=IMAGE_PIPELINE_ARN,
        ),
        frozenset({"name", "version"}),
    ),
    output_type=ListImagePipelineImagesResponse,
    output=list_pipeline_images_output,
    to_wire=list_to_wire,
    errors=(*_LIST_ERRORS, ResourceNotFoundException),
    paginator=_IMAGE_SUMMARIES,
)

LIST_IMAGE_BUILD_VERSIONS: Operation[ListImageBuildVersionsResponse] = Operation(
    name="ListImageBuildVersions",
    summary="list an image version's builds, every page followed and merged",
    method="POST",
    path="/ListImageBuildVersions",
    members=_list_members(
        Member(
            name="image_version_arn",
            wire="imageVersionArn",
            location="body",
            pattern=IMAGE_VERSION_ARN,
        ),
        frozenset({"name", "osVersion", "platform", "type", "version"}),
    ),
    output_type=ListImageBuildVersionsResponse,
    output=list_build_versions_output,
    to_wire=list_to_wire,
    errors=_LIST_ERRORS,
    paginator=_IMAGE_SUMMARIES,
)

#: Every operation by name, for the clients, the CLI and the testing kit to route through.
OPERATIONS: Mapping[str, Operation[Any]] = MappingProxyType(
    {
        op.name: op
        for op in (
            CANCEL_IMAGE_CREATION,
            GET_IMAGE,
            LIST_IMAGE_PIPELINE_IMAGES,
            LIST_IMAGE_BUILD_VERSIONS,
        )
    }
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
