"""LocalImageBuilder: a SigV4-checking stand-in for Image Builder on 127.0.0.1.

It serves four operations, as the service does on the wire (any SDK can use it,
botocore's included, and the AWS CLI):

- ``PUT /CancelImageCreation`` with a JSON body;
- ``GET /GetImage?imageBuildVersionArn=<percent-encoded ARN>``, no body;
- ``POST /ListImagePipelineImages`` and ``POST /ListImageBuildVersions`` with a
  JSON body (paging, filters and tokens: see ``_lists.py``).

Cancel semantics:

- an image in a non-terminal state (PENDING, CREATING, BUILDING, TESTING,
  DISTRIBUTING, INTEGRATING) is accepted for cancellation. As in the service the
  cancel is asynchronous: the image keeps its status for the image's
  ``cancel_delay`` seconds, then reports CANCELLED (at once when the delay is 0).
  While a cancel is pending the image is still non-terminal, so another cancel
  is accepted too (with its own ``requestId``); it does not restart the delay;
- cancelling an image in a terminal state (AVAILABLE, CANCELLED, FAILED,
  DEPRECATED, DELETED, DISABLED) gets ``InvalidRequestException`` (400). Of
  the operation's modeled errors it is the one that says "this request cannot
  be served" without inviting a retry: ``ResourceInUseException`` reads
  "retry later", which would be wrong for a build that has already ended;
- an unknown ARN gets ``ClientException`` (400), the model's error for "an
  invalid resource identifier", for GetImage as for cancel;
- the same ``clientToken`` with the same ARN returns the original response
  (same ``requestId``); with a different ARN, ``IdempotentParameterMismatchException``.

List semantics (details in ``_lists.py``): an image belongs to the pipeline
given to :meth:`add_image`, or to none; a list shows current statuses. An
unknown pipeline lists nothing, as the model documents, or with
``unknown_pipeline="not_found"`` is a 404 ``ResourceNotFoundException``.

GetImage accepts a build-version ARN (``.../image/name/1.0.0/3``) or a version
ARN, with or without ``x`` wildcards (``.../image/name/1.x.x``), which resolves
to the latest build version the stand-in holds that matches.

Every request's SigV4 signature is checked against the server's credentials,
and its date must be within 5 minutes: a failure is a 403
``InvalidSignatureException``, as the service answers. A session token sent
with credentials that have none is a 403 ``UnrecognizedClientException``.

Memory is bounded: the stand-in keeps the last ``max_requests`` requests and
the last ``max_tokens`` idempotency tokens (a token older than that is
forgotten, as the service forgets tokens after a while).

The rules here (ARN patterns, states, limits) are written from the service
model, not imported from the client library, so the stand-in checks the
client rather than agreeing with it by construction.
"""

from __future__ import annotations

import collections
import datetime
import json
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from urllib.parse import parse_qs

from .._credentials import Credentials
from ._images import (
    BUILD_VERSION_ARN,
    PIPELINE_ARN,
    STATUSES,
    TERMINAL,
    VERSION_ARN,
    Image,
    image_json,
    latest,
    latest_references,
    summary_json,
)
from ._lists import BUILD_VERSIONS, PIPELINE_IMAGES, ListError, ListOperation, page, parse_request
from ._loopback import LoopbackServer, ReceivedRequest, Reply
from ._sigv4 import verify_request

#: Credentials the stand-in accepts when none are given. Not secret: local only.
DEFAULT_CREDENTIALS = Credentials("AKIDLOCALSTANDIN", "local-stand-in-secret")

_CLIENT_TOKEN_LENGTH = (1, 64)

#: Default bounds on what the stand-in remembers.
MAX_REQUESTS = 1000
MAX_TOKENS = 10_000


def _error(status: int, code: str, message: str, request_id: str) -> Reply:
    return Reply(
        status=status,
        headers=[
            (
                "x-amzn-ErrorType",
                f"{code}:http://internal.amazon.com/coral/com.amazonaws.imagebuilder/",
            ),
            ("x-amzn-RequestId", request_id),
            ("Content-Type", "application/json"),
        ],
        body=json.dumps({"message": message}).encode(),
    )


def _ok(request_id: str, payload: Mapping[str, object]) -> Reply:
    return Reply(
        headers=[("x-amzn-RequestId", request_id), ("Content-Type", "application/json")],
        body=json.dumps(payload).encode(),
    )


def _check_bound(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _json_body(request: ReceivedRequest) -> object:
    # UTF-8 only, as the service reads it (json.loads would take UTF-16 or
    # UTF-32 bytes too); RecursionError: 100k nested brackets.
    try:
        return json.loads(request.body.decode("utf-8"))
    except (ValueError, RecursionError):
        raise ListError(400, "InvalidRequestException", "The body is not JSON.") from None


_Route = Callable[["LocalImageBuilder", ReceivedRequest, str], Reply]
_UNKNOWN_PIPELINE = ("empty", "not_found")


class LocalImageBuilder:
    """A local Image Builder that checks signatures and remembers images.

    Args:
        credentials: the credentials requests must be signed with (one, or several).
        region: the region requests must be signed for; None accepts any.
        port: the port to listen on; 0 picks a free one.
        max_requests: how many received requests :attr:`requests` keeps (the last ones).
        max_tokens: how many idempotency tokens are remembered (the last ones).
        clock: seconds from a monotonic clock; drives ``cancel_delay`` (tests
            may pass a fake one).
        unknown_pipeline: what ListImagePipelineImages answers for a pipeline
            never declared (:meth:`add_pipeline`, or an image's ``pipeline_arn``):
            ``"empty"`` (an empty list, as the model documents) or
            ``"not_found"`` (404 ``ResourceNotFoundException``).
        request_ids: makes each reply's ``requestId`` (default: a random UUID;
            pass a counter for deterministic output).

    Raises:
        ValueError: ``max_requests`` or ``max_tokens`` is not a positive
            integer, or ``unknown_pipeline`` is neither value.

    Example:
        >>> import sigv4_imagebuilder as sib
        >>> arn = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo/1.0.0/1"
        >>> creds = sib.Credentials("AKIDLOCAL", "local-secret")
        >>> with LocalImageBuilder(credentials=creds, region="us-east-1") as server:
        ...     server.add_image(arn)
        ...     with sib.ImageBuilderClient(region="us-east-1", credentials=creds,
        ...                                 endpoint_url=server.endpoint_url) as client:
        ...         _ = client.cancel_image_creation(arn)
        ...     server.image_status(arn)
        'CANCELLED'
    """

    def __init__(
        self,
        credentials: Credentials | Iterable[Credentials] = DEFAULT_CREDENTIALS,
        region: str | None = None,
        *,
        port: int = 0,
        max_requests: int = MAX_REQUESTS,
        max_tokens: int = MAX_TOKENS,
        clock: Callable[[], float] = time.monotonic,
        unknown_pipeline: str = "empty",
        request_ids: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        if unknown_pipeline not in _UNKNOWN_PIPELINE:
            raise ValueError(f"unknown_pipeline must be one of {_UNKNOWN_PIPELINE}")
        creds = [credentials] if isinstance(credentials, Credentials) else list(credentials)
        self._credentials = {c.access_key_id: c for c in creds}
        self.region = region
        self._clock = clock
        self._images: dict[str, Image] = {}
        self._pipelines: set[str] = set()
        self._unknown_pipeline = unknown_pipeline
        self._request_ids = request_ids
        # Keys the page tokens: a token from another server does not verify here.
        self._secret = secrets.token_bytes(32)
        self._max_tokens = _check_bound("max_tokens", max_tokens)
        self._tokens: collections.OrderedDict[str, tuple[str, Reply]] = collections.OrderedDict()
        self._requests: collections.deque[ReceivedRequest] = collections.deque(
            maxlen=_check_bound("max_requests", max_requests)
        )
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._handle, port=port)

    @property
    def endpoint_url(self) -> str:
        """Where to point ``endpoint_url=``: ``http://127.0.0.1:PORT``."""
        return self._server.endpoint_url

    @property
    def requests(self) -> list[ReceivedRequest]:
        """The last ``max_requests`` requests received, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def add_image(
        self,
        arn: str,
        status: str = "BUILDING",
        *,
        cancel_delay: float = 0.0,
        tags: Mapping[str, str] | None = None,
        pipeline_arn: str | None = None,
        created: datetime.datetime | None = None,
    ) -> None:
        """Add (or reset) an image build version in ``status``.

        Args:
            arn: the image build version ARN (``.../image/NAME/X.Y.Z/BUILD``).
            status: its status; one of :data:`NON_TERMINAL` or :data:`TERMINAL`.
            cancel_delay: seconds an accepted cancel takes before the image
                reports CANCELLED; until then it keeps its status.
            tags: the image's tags, as GetImage returns them.
            pipeline_arn: the image pipeline that built it (declared too, as by
                :meth:`add_pipeline`); None: no pipeline.
            created: its ``dateCreated`` (timezone-aware); default now. Lists
                show the newest first.

        Raises:
            ValueError: the ARN, status, delay, pipeline ARN or date is invalid.
        """
        match = BUILD_VERSION_ARN.fullmatch(arn) if isinstance(arn, str) else None
        if match is None:
            raise ValueError(f"not an image build version ARN: {arn!r}")
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {sorted(STATUSES)}")
        if (
            isinstance(cancel_delay, bool)
            or not isinstance(cancel_delay, (int, float))
            or not math.isfinite(cancel_delay)
            or cancel_delay < 0
        ):
            raise ValueError(f"cancel_delay must be a finite number >= 0, got {cancel_delay!r}")
        if pipeline_arn is not None:
            self._check_pipeline_arn(pipeline_arn)
        if created is None:
            created = datetime.datetime.now(datetime.timezone.utc)
        elif not isinstance(created, datetime.datetime) or created.utcoffset() is None:
            raise ValueError(f"created must be a timezone-aware datetime, got {created!r}")
        image = Image(
            arn=arn,
            parts=match.groupdict(),
            status=status,
            reason=None,
            created=created.astimezone(datetime.timezone.utc),
            cancel_delay=float(cancel_delay),
            tags=dict(tags or {}),
            pipeline_arn=pipeline_arn,
        )
        with self._lock:
            self._images[arn] = image
            if pipeline_arn is not None:
                self._pipelines.add(pipeline_arn)

    def add_pipeline(self, arn: str) -> None:
        """Declare an image pipeline, with or without images.

        Only matters with ``unknown_pipeline="not_found"``: listing a declared
        pipeline that has no images gives an empty list, not a 404.

        Raises:
            ValueError: not an image pipeline ARN.
        """
        self._check_pipeline_arn(arn)
        with self._lock:
            self._pipelines.add(arn)

    @staticmethod
    def _check_pipeline_arn(arn: str) -> None:
        if not isinstance(arn, str) or PIPELINE_ARN.fullmatch(arn) is None:
            raise ValueError(f"not an image pipeline ARN: {arn!r}")

    def set_image_status(self, arn: str, status: str, reason: str | None = None) -> None:
        """Move a held image to ``status`` (any transition), with an optional reason.

        A pending cancel is dropped: the test now decides the image's fate.

        Args:
            arn: the image build version ARN given to :meth:`add_image`.
            status: the new status.
            reason: the ``state.reason`` GetImage reports (e.g. why it FAILED).

        Raises:
            ValueError: the image is unknown, or the status or reason is invalid.
        """
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {sorted(STATUSES)}")
        if reason is not None and (not isinstance(reason, str) or not 1 <= len(reason) <= 1024):
            raise ValueError("reason must be a string of 1 to 1024 characters")
        with self._lock:
            image = self._images.get(arn)
            if image is None:
                raise ValueError(f"unknown image {arn!r}: add it with add_image first")
            image.status, image.reason, image.cancel_at = status, reason, None

    def image_status(self, arn: str) -> str | None:
        """The image's status as GetImage would report it now, or None if unknown."""
        with self._lock:
            image = self._images.get(arn)
            if image is None:
                return None
            image.settle(self._clock())
            return image.status

    def start(self) -> None:
        """Start serving in a background thread."""
        self._server.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self) -> LocalImageBuilder:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _handle(self, request: ReceivedRequest) -> Reply:
        request_id = self._request_ids()
        with self._lock:
            self._requests.append(request)
        problem = verify_request(
            request,
            credentials=self._credentials,
            region=self.region,
            now=datetime.datetime.now(datetime.timezone.utc),
        )
        if problem is not None:
            return _error(403, problem.code, problem.message, request_id)
        route = _ROUTES.get((request.method, request.path))
        if route is None:
            return _error(404, "UnknownOperationException", "Unknown operation", request_id)
        return route(self, request, request_id)

    def _cancel_image_creation(self, request: ReceivedRequest, request_id: str) -> Reply:
        try:
            body = _json_body(request)
        except ListError as exc:
            return _error(exc.status, exc.code, exc.message, request_id)
        arn = body.get("imageBuildVersionArn") if isinstance(body, dict) else None
        token = body.get("clientToken") if isinstance(body, dict) else None
        if not isinstance(arn, str) or BUILD_VERSION_ARN.fullmatch(arn) is None:
            return _error(
                400, "InvalidRequestException", "imageBuildVersionArn is invalid.", request_id
            )
        low, high = _CLIENT_TOKEN_LENGTH
        if not isinstance(token, str) or not low <= len(token) <= high:
            return _error(400, "InvalidRequestException", "clientToken is invalid.", request_id)
        with self._lock:
            seen = self._tokens.get(token)
            if seen is not None:
                if seen[0] != arn:
                    return _error(400, "IdempotentParameterMismatchException",
                                  f"The client token {token} was used with a different image.",
                                  request_id)  # fmt: skip
                return seen[1]
            image = self._images.get(arn)
            if image is None:
                return _error(400, "ClientException", f"Image {arn} does not exist.", request_id)
            now = self._clock()
            image.settle(now)
            if image.status in TERMINAL:
                message = (
                    f"The image is in a terminal state ({image.status}) and cannot be cancelled."
                )
                return _error(400, "InvalidRequestException", message, request_id)
            if image.cancel_delay == 0:
                image.status, image.reason = "CANCELLED", None
            elif image.cancel_at is None:  # a second cancel does not restart the clock
                image.cancel_at = now + image.cancel_delay
            payload = {"requestId": request_id, "clientToken": token, "imageBuildVersionArn": arn}
            reply = _ok(request_id, payload)
            self._tokens[token] = (arn, reply)
            while len(self._tokens) > self._max_tokens:
                self._tokens.popitem(last=False)
            return reply

    def _get_image(self, request: ReceivedRequest, request_id: str) -> Reply:
        query = parse_qs(request.query, keep_blank_values=True)
        values = query.get("imageBuildVersionArn", [])
        if len(values) != 1:
            return _error(
                400, "InvalidRequestException",
                "imageBuildVersionArn is required, once, in the query string.", request_id,
            )  # fmt: skip
        arn = values[0]
        exact = BUILD_VERSION_ARN.fullmatch(arn)
        wanted = None if exact else VERSION_ARN.fullmatch(arn)
        if exact is None and wanted is None:
            return _error(
                400, "InvalidRequestException", "imageBuildVersionArn is invalid.", request_id
            )
        with self._lock:
            now = self._clock()
            if exact is not None:
                image = self._images.get(arn)
            else:
                assert wanted is not None
                image = latest(self._images.values(), wanted.groupdict())
            if image is None:
                return _error(400, "ClientException", f"Image {arn} does not exist.", request_id)
            image.settle(now)
            payload = {
                "requestId": request_id,
                "image": image_json(image),
                "latestVersionReferences": latest_references(self._images.values(), image),
            }
        return _ok(request_id, payload)

    def _list(self, request: ReceivedRequest, request_id: str, operation: ListOperation) -> Reply:
        try:
            wanted = parse_request(operation, _json_body(request), self._secret)
            scope = wanted.scope
            with self._lock:
                if (
                    operation is PIPELINE_IMAGES
                    and self._unknown_pipeline == "not_found"
                    and scope not in self._pipelines
                ):
                    message = f"The image pipeline {scope} does not exist."
                    raise ListError(404, "ResourceNotFoundException", message)
                now = self._clock()
                held = [
                    image
                    for image in self._images.values()
                    if scope is None or operation.in_scope(image, scope)
                ]
                for image in held:  # show each image's status as of now
                    image.settle(now)
                chosen, token = page(wanted, held, self._secret)
                summaries = [summary_json(image) for image in chosen]
        except ListError as exc:
            return _error(exc.status, exc.code, exc.message, request_id)
        payload: dict[str, object] = {"requestId": request_id, "imageSummaryList": summaries}
        if token is not None:
            payload["nextToken"] = token
        return _ok(request_id, payload)


# One row per operation: (method, path) -> handler. A new operation is one
# handler and one row.
_ROUTES: dict[tuple[str, str], _Route] = {
    ("PUT", "/CancelImageCreation"): LocalImageBuilder._cancel_image_creation,
    ("GET", "/GetImage"): LocalImageBuilder._get_image,
    ("POST", "/ListImagePipelineImages"): lambda self, request, request_id: self._list(
        request, request_id, PIPELINE_IMAGES
    ),
    ("POST", "/ListImageBuildVersions"): lambda self, request, request_id: self._list(
        request, request_id, BUILD_VERSIONS
    ),
}
