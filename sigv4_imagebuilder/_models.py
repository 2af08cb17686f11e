"""The operations' results and their metadata (credentials live in ``_credentials``)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs


def freeze(value: Any) -> Any:
    """A read-only copy of decoded JSON: objects become mappings, arrays tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of :func:`freeze`: plain dicts and lists, ready for ``json.dumps``."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@attrs.frozen(kw_only=True)
class ResponseMetadata:
    """What the HTTP exchange said about a successful call.

    Attributes:
        request_id: the ``x-amzn-RequestId`` header, or ``None``.
        http_status_code: the HTTP status of the final attempt.
        http_headers: the final reply's headers, names in lower case.
        retry_attempts: how many retries were made (0 if the first attempt succeeded).
    """

    request_id: str | None
    http_status_code: int
    http_headers: Mapping[str, str] = attrs.field(hash=False)
    retry_attempts: int = 0


@attrs.frozen(kw_only=True)
class CancelImageCreationResponse:
    """The result of ``cancel_image_creation``.

    Attributes:
        request_id: the request id from the body.
        client_token: the idempotency token the service recorded.
        image_build_version_arn: the ARN of the image whose creation was cancelled.
        metadata: HTTP details of the exchange.
    """

    request_id: str | None
    client_token: str | None
    image_build_version_arn: str | None
    metadata: ResponseMetadata


@attrs.frozen(kw_only=True)
class ImageState:
    """An image's (or AMI's) state.

    Attributes:
        status: ``PENDING``, ``CREATING``, ``BUILDING``, ``TESTING``,
            ``DISTRIBUTING``, ``INTEGRATING``, ``AVAILABLE``, ``CANCELLED``,
            ``FAILED``, ``DEPRECATED``, ``DELETED``, ``DISABLED``, or a value
            added to the service later (kept as sent); ``None`` if absent.
        reason: why the image is in this state, when the service says.
    """

    status: str | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class Ami:
    """An AMI an image build produced in one region.

    Attributes:
        region: the AWS region of the AMI.
        image_id: the AMI id, such as ``ami-0abc...``.
        name: the AMI's name.
        description: the AMI's description.
        account_id: the account that owns the AMI.
        state: the AMI's own state.
    """

    region: str | None = None
    image_id: str | None = None
    name: str | None = None
    description: str | None = None
    account_id: str | None = None
    state: ImageState | None = None


@attrs.frozen(kw_only=True)
class Container:
    """Container images a build produced in one region.

    Attributes:
        region: the AWS region of the images.
        image_uris: the registry URIs of the images.
    """

    region: str | None = None
    image_uris: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class OutputResources:
    """What an image build produced: AMIs or container images."""

    amis: tuple[Ami, ...] = ()
    containers: tuple[Container, ...] = ()


@attrs.frozen(kw_only=True)
class LatestVersionReferences:
    """ARNs of the newest versions of the image, as GetImage reports them."""

    latest_version_arn: str | None = None
    latest_major_version_arn: str | None = None
    latest_minor_version_arn: str | None = None
    latest_patch_version_arn: str | None = None


@attrs.frozen(kw_only=True)
class Image:
    """An image build version as GetImage describes it.

    The typed fields are those callers usually need; ``raw`` is the ``image``
    object exactly as received (read-only: objects are mappings, arrays are
    tuples), so fields this release does not type, or that the service adds
    later, are still there. A field the reply leaves out is ``None``; an
    unknown status or enum value is kept as sent. A typed field that arrives
    with another JSON type (a number for ``name``, a string for ``state``)
    fails the call with ``ResponseParseError`` naming the field, rather than
    being guessed at; fields only in ``raw`` are never checked.

    Attributes:
        arn: the image build version's ARN.
        name: the image's name.
        version: the semantic version with build number, such as ``1.0.0/3``.
        type: ``AMI`` or ``DOCKER``.
        platform: ``Windows``, ``Linux`` or ``macOS``.
        os_version: the operating system version, such as ``Amazon Linux 2``.
        state: the build's status and its reason.
        date_created: the creation time, as the service's string.
        build_type: ``USER_INITIATED``, ``SCHEDULED``, ``IMPORT`` or ``IMPORT_ISO``.
        image_source: ``AMAZON_MANAGED``, ``AWS_MARKETPLACE``, ``IMPORTED`` or ``CUSTOM``.
        source_pipeline_arn: the pipeline that built the image, if any.
        output_resources: the AMIs or container images produced.
        tags: the image's tags (read-only).
        raw: the whole ``image`` object as received (read-only).
    """

    arn: str | None = None
    name: str | None = None
    version: str | None = None
    type: str | None = None
    platform: str | None = None
    os_version: str | None = None
    state: ImageState | None = None
    date_created: str | None = None
    build_type: str | None = None
    image_source: str | None = None
    source_pipeline_arn: str | None = None
    output_resources: OutputResources | None = None
    tags: Mapping[str, str] | None = attrs.field(default=None, hash=False)
    raw: Mapping[str, Any] = attrs.field(factory=lambda: MappingProxyType({}), hash=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # ``raw`` and ``tags`` are read-only mappings, which pickle refuses; a
        # batch that ships results between processes gets them as plain JSON
        # data, frozen again on load.
        state = attrs.asdict(self, recurse=False)
        state["tags"] = None if self.tags is None else thaw(self.tags)
        state["raw"] = thaw(self.raw)
        return (_load_image, (state,))


def _load_image(state: dict[str, Any]) -> Image:
    tags = state["tags"]
    return Image(
        **{**state, "tags": None if tags is None else freeze(tags), "raw": freeze(state["raw"])}
    )


@attrs.frozen(kw_only=True)
class GetImageResponse:
    """The result of ``get_image``.

    Attributes:
        request_id: the request id from the body.
        image: the image, or ``None`` if the reply carried none.
        latest_version_references: ARNs of the image's newest versions, if sent.
        metadata: HTTP details of the exchange.
    """

    request_id: str | None
    image: Image | None
    latest_version_references: LatestVersionReferences | None
    metadata: ResponseMetadata


@attrs.frozen(kw_only=True)
class ImageSummary:
    """One image build version as the list operations summarize it.

    As with :class:`Image`, the typed fields are those callers usually need
    and ``raw`` is the summary exactly as received (read-only).

    Attributes:
        arn: the image build version's ARN.
        name: the image's name.
        type: ``AMI`` or ``DOCKER``.
        version: the semantic version with build number, such as ``1.0.0/3``.
        platform: ``Windows``, ``Linux`` or ``macOS``.
        os_version: the operating system version.
        state: the build's status and its reason.
        owner: the account that owns the image.
        date_created: the creation time, as the service's string.
        build_type: ``USER_INITIATED``, ``SCHEDULED``, ``IMPORT`` or ``IMPORT_ISO``.
        image_source: ``AMAZON_MANAGED``, ``AWS_MARKETPLACE``, ``IMPORTED`` or ``CUSTOM``.
        deprecation_time: when the image was or will be deprecated, if set, in
            seconds since the epoch (the model's timestamp, sent as a number).
        lifecycle_execution_id: the lifecycle policy run that last acted on it.
        output_resources: the AMIs or container images produced.
        tags: the image's tags (read-only).
        raw: the whole summary as received (read-only).
    """

    arn: str | None = None
    name: str | None = None
    type: str | None = None
    version: str | None = None
    platform: str | None = None
    os_version: str | None = None
    state: ImageState | None = None
    owner: str | None = None
    date_created: str | None = None
    build_type: str | None = None
    image_source: str | None = None
    deprecation_time: float | None = None
    lifecycle_execution_id: str | None = None
    output_resources: OutputResources | None = None
    tags: Mapping[str, str] | None = attrs.field(default=None, hash=False)
    raw: Mapping[str, Any] = attrs.field(factory=lambda: MappingProxyType({}), hash=False)

    @property
    def status(self) -> str | None:
        """``state.status``, or ``None`` when the summary has no state."""
        return None if self.state is None else self.state.status

    def __reduce__(self) -> tuple[Any, ...]:
        # Read-only mappings do not pickle: ship them as plain JSON data (see Image).
        state = attrs.asdict(self, recurse=False)
        state["tags"] = None if self.tags is None else thaw(self.tags)
        state["raw"] = thaw(self.raw)
        return (_load_summary, (state,))


def _load_summary(state: dict[str, Any]) -> ImageSummary:
    tags = state["tags"]
    return ImageSummary(
        **{**state, "tags": None if tags is None else freeze(tags), "raw": freeze(state["raw"])}
    )


@attrs.frozen(kw_only=True)
class ListImagePipelineImagesResponse:
    """One page of ``list_image_pipeline_images``.

    Attributes:
        image_summary_list: the images on this page.
        next_token: pass it back for the next page; ``None`` on the last one.
        request_id: the request id from the body.
        metadata: HTTP details of the exchange.
    """

    image_summary_list: tuple[ImageSummary, ...]
    next_token: str | None
    request_id: str | None
    metadata: ResponseMetadata


@attrs.frozen(kw_only=True)
class ListImageBuildVersionsResponse:
    """One page of ``list_image_build_versions``; fields as
    :class:`ListImagePipelineImagesResponse`."""

    image_summary_list: tuple[ImageSummary, ...]
    next_token: str | None
    request_id: str | None
    metadata: ResponseMetadata


@attrs.frozen(kw_only=True)
class BuildCancelOutcome:
    """What ``cancel_pipeline_builds`` did with one image.

    Attributes:
        image_build_version_arn: the image build version.
        outcome: ``"cancelled"`` (the cancel was accepted, and with ``wait=True``
            the image reached ``CANCELLED``), ``"already_finished"`` (it had
            finished before the cancel could take), ``"failed"``, or, only in
            the progress reports while the work goes on, ``"pending"``.
        status: the last status seen for the image.
        error: the exception behind a ``"failed"`` outcome, else ``None``.
    """

    image_build_version_arn: str
    outcome: str
    status: str | None = None
    error: BaseException | None = attrs.field(default=None, eq=False)
