"""How a reply's JSON object becomes an operation's result, and back to the service's spelling.

The readers check each typed field against the service model and raise
:class:`~._shapes.ShapeError` naming it; what the model does not type is kept
as received in the results' ``raw``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ._models import (
    Ami,
    CancelImageCreationResponse,
    Container,
    GetImageResponse,
    Image,
    ImageState,
    ImageSummary,
    LatestVersionReferences,
    ListImageBuildVersionsResponse,
    ListImagePipelineImagesResponse,
    OutputResources,
    ResponseMetadata,
    freeze,
    thaw,
)
from ._shapes import ShapeError


def _wrong(path: str, expected: str, value: object) -> ShapeError:
    return ShapeError(f"field {path} should be {expected}, got {type(value).__name__}")


def _str(data: Mapping[str, Any], wire: str, prefix: str = "") -> str | None:
    value = data.get(wire)
    if value is not None and not isinstance(value, str):
        raise _wrong(prefix + wire, "a string", value)
    return value


def _number(data: Mapping[str, Any], wire: str, prefix: str = "") -> float | None:
    value = data.get(wire)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise _wrong(prefix + wire, "a number", value)
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


def _output_resources(image: Mapping[str, Any], where: str = "image.") -> OutputResources | None:
    resources = _obj(image, "outputResources", where)
    if resources is None:
        return None
    prefix = where + "outputResources."
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


def _tags(image: Mapping[str, Any], where: str = "image.") -> Mapping[str, str] | None:
    tags = _obj(image, "tags", where)
    if tags is not None:
        for key, value in tags.items():
            if not isinstance(value, str):
                raise _wrong(f"{where}tags[{key!r}]", "a string", value)
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


def get_image_output(data: Mapping[str, Any], metadata: ResponseMetadata) -> GetImageResponse:
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


def get_image_to_wire(response: GetImageResponse) -> dict[str, Any]:
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


def cancel_output(
    data: Mapping[str, Any], metadata: ResponseMetadata
) -> CancelImageCreationResponse:
    return CancelImageCreationResponse(
        request_id=_str(data, "requestId"),
        client_token=_str(data, "clientToken"),
        image_build_version_arn=_str(data, "imageBuildVersionArn"),
        metadata=metadata,
    )


def cancel_to_wire(response: CancelImageCreationResponse) -> dict[str, Any]:
    wire = {
        "requestId": response.request_id,
        "clientToken": response.client_token,
        "imageBuildVersionArn": response.image_build_version_arn,
    }
    return {k: v for k, v in wire.items() if v is not None}


def _summary(item: Mapping[str, Any], where: str) -> ImageSummary:
    def text(wire: str) -> str | None:
        return _str(item, wire, where)

    return ImageSummary(
        arn=text("arn"),
        name=text("name"),
        type=text("type"),
        version=text("version"),
        platform=text("platform"),
        os_version=text("osVersion"),
        state=_state(item, where),
        owner=text("owner"),
        date_created=text("dateCreated"),
        build_type=text("buildType"),
        image_source=text("imageSource"),
        deprecation_time=_number(item, "deprecationTime", where),
        lifecycle_execution_id=text("lifecycleExecutionId"),
        output_resources=_output_resources(item, where),
        tags=_tags(item, where),
        raw=item,
    )


def _summaries(data: Mapping[str, Any]) -> tuple[ImageSummary, ...]:
    items = _objects(data, "imageSummaryList", "")
    return tuple(_summary(item, f"imageSummaryList[{i}].") for i, item in enumerate(items))


PageT = TypeVar("PageT", ListImagePipelineImagesResponse, ListImageBuildVersionsResponse)


def _page_of(page_type: type[PageT]) -> Callable[[Mapping[str, Any], ResponseMetadata], PageT]:
    """The reader of a list operation's reply: both list operations' replies share a shape."""

    def output(data: Mapping[str, Any], metadata: ResponseMetadata) -> PageT:
        data = freeze(data)
        return page_type(
            image_summary_list=_summaries(data),
            next_token=_str(data, "nextToken") or None,
            request_id=_str(data, "requestId"),
            metadata=metadata,
        )

    return output


#: ListImagePipelineImages' and ListImageBuildVersions' replies as their results.
list_pipeline_images_output = _page_of(ListImagePipelineImagesResponse)
list_build_versions_output = _page_of(ListImageBuildVersionsResponse)


def list_to_wire(
    response: ListImagePipelineImagesResponse | ListImageBuildVersionsResponse,
) -> dict[str, Any]:
    """A list page as the service spells it, in the model's member order."""
    wire: dict[str, Any] = {}
    if response.request_id is not None:
        wire["requestId"] = response.request_id
    wire["imageSummaryList"] = [thaw(s.raw) for s in response.image_summary_list]
    if response.next_token is not None:
        wire["nextToken"] = response.next_token
    return wire
