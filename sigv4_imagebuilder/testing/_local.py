"""LocalImageBuilder: a SigV4-checking stand-in for Image Builder on 127.0.0.1.

Cancel semantics:

- an image in a non-terminal state (PENDING, CREATING, BUILDING, TESTING,
  DISTRIBUTING, INTEGRATING) becomes CANCELLED;
- cancelling an image in a terminal state (AVAILABLE, CANCELLED, FAILED,
  DEPRECATED, DELETED, DISABLED) gets ``InvalidRequestException`` (400). Of
  the operation's modeled errors it is the one that says "this request cannot
  be served" without inviting a retry: ``ResourceInUseException`` reads
  "retry later", which would be wrong for a build that has already ended;
- an unknown ARN gets ``ClientException`` (400), the model's error for "an
  invalid resource identifier";
- the same ``clientToken`` with the same ARN returns the original response
  (same ``requestId``); with a different ARN, ``IdempotentParameterMismatchException``.

Every request's SigV4 signature is checked against the server's credentials,
and its date must be within 5 minutes: a failure is a 403
``InvalidSignatureException``, as the service answers.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from collections.abc import Iterable
from types import TracebackType

from .._credentials import Credentials
from .._protocol import ARN_PATTERN, CLIENT_TOKEN_MAX
from ._loopback import LoopbackServer, ReceivedRequest, Reply
from ._sigv4 import verify_request

NON_TERMINAL = frozenset(
    {"PENDING", "CREATING", "BUILDING", "TESTING", "DISTRIBUTING", "INTEGRATING"}
)
TERMINAL = frozenset({"AVAILABLE", "CANCELLED", "FAILED", "DEPRECATED", "DELETED", "DISABLED"})
STATUSES = NON_TERMINAL | TERMINAL

#: Credentials the stand-in accepts when none are given. Not secret: local only.
DEFAULT_CREDENTIALS = Credentials("AKIDLOCALSTANDIN", "local-stand-in-secret")


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


class LocalImageBuilder:
    """A local Image Builder that checks signatures and remembers images.

    Args:
        credentials: the credentials requests must be signed with (one, or several).
        region: the region requests must be signed for; None accepts any.
        port: the port to listen on; 0 picks a free one.

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
    ) -> None:
        creds = [credentials] if isinstance(credentials, Credentials) else list(credentials)
        self._credentials = {c.access_key_id: c for c in creds}
        self.region = region
        self._images: dict[str, str] = {}
        self._tokens: dict[str, tuple[str, Reply]] = {}
        self._lock = threading.Lock()
        self.requests: list[ReceivedRequest] = []
        self._server = LoopbackServer(self._handle, port=port)

    @property
    def endpoint_url(self) -> str:
        """Where to point ``endpoint_url=``: ``http://127.0.0.1:PORT``."""
        return self._server.endpoint_url

    def add_image(self, arn: str, status: str = "BUILDING") -> None:
        """Add (or reset) an image build version in ``status``."""
        if ARN_PATTERN.fullmatch(arn) is None:
            raise ValueError(f"not an image build version ARN: {arn!r}")
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {sorted(STATUSES)}")
        with self._lock:
            self._images[arn] = status

    def image_status(self, arn: str) -> str | None:
        """The image's status, or None if the stand-in does not know it."""
        with self._lock:
            return self._images.get(arn)

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
        request_id = str(uuid.uuid4())
        with self._lock:
            self.requests.append(request)
        problem = verify_request(
            request,
            credentials=self._credentials,
            region=self.region,
            now=datetime.datetime.now(datetime.timezone.utc),
        )
        if problem is not None:
            return _error(403, problem.code, problem.message, request_id)
        if request.method != "PUT" or request.path != "/CancelImageCreation":
            return _error(404, "UnknownOperationException", "Unknown operation", request_id)
        try:
            body = json.loads(request.body)
        except ValueError:
            return _error(400, "InvalidRequestException", "The body is not JSON.", request_id)
        arn = body.get("imageBuildVersionArn") if isinstance(body, dict) else None
        token = body.get("clientToken") if isinstance(body, dict) else None
        if not isinstance(arn, str) or ARN_PATTERN.fullmatch(arn) is None:
            return _error(
                400, "InvalidRequestException", "imageBuildVersionArn is invalid.", request_id
            )
        if not isinstance(token, str) or not 1 <= len(token) <= CLIENT_TOKEN_MAX:
            return _error(400, "InvalidRequestException", "clientToken is invalid.", request_id)
        with self._lock:
            seen = self._tokens.get(token)
            if seen is not None:
                if seen[0] != arn:
                    return _error(400, "IdempotentParameterMismatchException",
                                  f"The client token {token} was used with a different image.",
                                  request_id)  # fmt: skip
                return seen[1]
            status = self._images.get(arn)
            if status is None:
                return _error(400, "ClientException", f"Image {arn} does not exist.", request_id)
            if status in TERMINAL:
                message = f"The image is in a terminal state ({status}) and cannot be cancelled."
                return _error(400, "InvalidRequestException", message, request_id)
            self._images[arn] = "CANCELLED"
            reply = Reply(
                headers=[("x-amzn-RequestId", request_id), ("Content-Type", "application/json")],
                body=json.dumps(
                    {"requestId": request_id, "clientToken": token, "imageBuildVersionArn": arn}
                ).encode(),
            )
            self._tokens[token] = (arn, reply)
            return reply
