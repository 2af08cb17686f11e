"""Every exception this library raises, under one root.

The tree::

    ImageBuilderError
    ├── ParamValidationError          (also a ValueError) bad input; nothing was sent
    ├── ConfigurationError            bad region, endpoint, profile or setting
    ├── NoCredentialsError            no credential source produced credentials
    ├── CredentialRetrievalError      a credential source was found but failed
    ├── ResponseParseError            a 2xx reply we could not read
    ├── TransportError                the request did not complete on the wire
    │   ├── ConnectError              could not connect
    │   ├── ConnectionClosedError     the connection dropped before a full reply
    │   └── TransportTimeoutError     connect, read, write or pool timeout
    ├── WaiterError                   a waiter stopped without reaching its goal
    │   ├── WaiterFailureError        the resource reached a state the goal cannot follow
    │   └── WaiterTimeoutError        ``max_wait`` passed before the goal was reached
    └── ServiceError                  the service answered with a non-2xx status
        ├── CallRateLimitExceededException   429
        ├── ClientException                  400
        ├── ForbiddenException               403
        ├── IdempotentParameterMismatchException 400
        ├── InvalidPaginationTokenException  400
        ├── InvalidRequestException          400
        ├── ResourceInUseException           400
        ├── ResourceNotFoundException        404
        ├── ServiceException                 500
        └── ServiceUnavailableException      503

Foreign exceptions (httpx, json, botocore) are translated at one boundary and
chained with ``raise ... from``; none escapes a public call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import GetImageResponse


class ImageBuilderError(Exception):
    """Root of every exception raised by sigv4_imagebuilder.

    ``retry_attempts`` says how many retries were made before this error was
    raised (0 when the first attempt was final). ``max_attempts_reached`` is
    true when the call had used all its attempts (whatever the error, as
    botocore's standard retry mode says it); ``retry_quota_reached`` when a
    retry was due but the client's retry budget was empty.
    """

    retry_attempts: int = 0
    max_attempts_reached: bool = False
    retry_quota_reached: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own pickling calls ``type(self)(*self.args)``, which the
        # keyword-only constructors below refuse, so a ProcessPoolExecutor
        # worker's error would reach the parent as BrokenProcessPool. Rebuild
        # from the args and attributes instead; the cause and traceback are
        # dropped, as pickle always drops them.
        return (_rebuild_error, (type(self), self.args, dict(vars(self))))


def chain_of(error: BaseException) -> list[BaseException]:
    """``error``, then each exception it was raised from or while handling
    (``__cause__``, else ``__context__``), each once."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not other for other in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _rebuild_error(
    cls: type[ImageBuilderError], args: tuple[Any, ...], state: dict[str, Any]
) -> ImageBuilderError:
    error = cls.__new__(cls)
    error.args = args
    vars(error).update(state)
    return error


class ParamValidationError(ImageBuilderError, ValueError):
    """A parameter broke a rule of the service model. Nothing was sent.

    Attributes:
        param: the parameter's name, as the caller spelt it.
        rule: the rule that failed, in words.
    """

    def __init__(self, param: str, rule: str, value: object) -> None:
        self.param = param
        self.rule = rule
        text = repr(value)
        if len(text) > 200:
            text = text[:200] + "..."
        super().__init__(f"Invalid parameter {param}: {rule}; got {text}")


class ConfigurationError(ImageBuilderError):
    """The client's configuration is unusable (region, endpoint, profile, files)."""


class NoCredentialsError(ImageBuilderError):
    """No credential source produced credentials.

    The message lists each source tried and why it was passed over. It never
    contains a secret.
    """


class CredentialRetrievalError(ImageBuilderError):
    """A credential source was configured but failed to deliver credentials."""


class ResponseParseError(ImageBuilderError):
    """A successful (2xx) reply whose body is not what the service model says.

    Attributes:
        status_code: the HTTP status.
        request_id: the ``x-amzn-RequestId`` header, when there was one.
        excerpt: the first bytes of the body, decoded leniently.
    """

    def __init__(
        self,
        reason: str,
        *,
        status_code: int,
        body: bytes,
        request_id: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.request_id = request_id
        excerpt = body[:120].decode("utf-8", errors="replace")
        if len(body) > 120:
            excerpt += "..."
        self.excerpt = excerpt
        super().__init__(f"{reason} (HTTP {status_code}, body {excerpt!r})")


class TransportError(ImageBuilderError):
    """The request did not complete on the wire.

    The underlying httpx exception is chained as ``__cause__``.
    """


class ConnectError(TransportError):
    """No connection could be made to the endpoint."""


class ConnectionClosedError(TransportError):
    """The connection closed before a complete reply was read."""


class TransportTimeoutError(TransportError):
    """A connect, read, write or pool timeout expired."""


class ServiceError(ImageBuilderError):
    """The service answered with a non-2xx status.

    Modeled error codes raise a subclass; any other code raises this class
    with ``code`` set.

    Attributes:
        code: the error code (``x-amzn-ErrorType`` without its suffix), or the
            status as a string when the reply carried no code.
        message: the service's message; for a body that is not JSON, its text
            (bounded, printable) or the HTTP reason phrase; ``""`` when a JSON
            body has none.
        status_code: the HTTP status.
        request_id: the ``x-amzn-RequestId`` header, kept on 5xx replies too.
        headers: the reply's headers, names in lower case.
        retry_attempts: how many retries were made before giving up.
        operation_name: the operation that failed, such as ``"GetImage"``.
        modeled_fields: the members of the error's modeled shape found in the
            body, by wire name: for Image Builder's errors ``{"message": ...}``
            when the body had one, else ``{}``.

    ``e.response`` is shaped like botocore's ``ClientError.response``, so
    code that migrates from boto3 keeps working::

        except ServiceError as e:
            e.response["Error"]["Code"]
    """

    def __init__(
        self,
        *,
        code: str,
        message: str = "",
        status_code: int,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        retry_attempts: int = 0,
        operation_name: str | None = None,
        modeled_fields: Mapping[str, str] | None = None,
    ) -> None:
        self.code = code
        self.modeled_fields: dict[str, str] = dict(modeled_fields or {})
        self.operation_name = operation_name
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.headers: dict[str, str] = dict(headers or {})
        self.retry_attempts = retry_attempts
        super().__init__(code, message)

    def __str__(self) -> str:
        if self.operation_name is None:
            return f"An error occurred ({self.code}): {self.message}"
        return (
            f"An error occurred ({self.code}) when calling the "
            f"{self.operation_name} operation: {self.message}"
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"status_code={self.status_code!r}, request_id={self.request_id!r})"
        )

    @property
    def response(self) -> dict[str, Any]:
        """The error in botocore's ``ClientError.response`` shape.

        Besides ``Error`` and ``ResponseMetadata``, the modeled members sit
        at top level (``"message"``, when the body had one), and
        ``ResponseMetadata`` has ``MaxAttemptsReached: True`` when the call
        used all its attempts, or ``RetryQuotaReached: True`` when the retry
        budget was empty, as botocore sets them.
        """
        metadata: dict[str, Any] = {
            "RequestId": self.request_id or "",
            "HTTPStatusCode": self.status_code,
            "HTTPHeaders": dict(self.headers),
            "RetryAttempts": self.retry_attempts,
        }
        if self.max_attempts_reached:
            metadata["MaxAttemptsReached"] = True
        if self.retry_quota_reached:
            metadata["RetryQuotaReached"] = True
        return {
            **self.modeled_fields,
            "Error": {"Code": self.code, "Message": self.message},
            "ResponseMetadata": metadata,
        }


class CallRateLimitExceededException(ServiceError):
    """429: the request rate for the EC2 APIs Image Builder calls was exceeded."""


class ClientException(ServiceError):
    """400: a client-side problem, such as a resource that does not exist."""


class ForbiddenException(ServiceError):
    """403: you are not authorized to perform the requested operation."""


class IdempotentParameterMismatchException(ServiceError):
    """400: the client token was reused with different parameters."""


class InvalidPaginationTokenException(ServiceError):
    """400: the ``nextToken`` is not one the service handed out for this listing."""


class InvalidRequestException(ServiceError):
    """400: the request is invalid, for example an image in a terminal state."""


class ResourceInUseException(ServiceError):
    """400: the resource is in use or in a state that forbids the operation."""


class ResourceNotFoundException(ServiceError):
    """404: the resource (such as an image pipeline) does not exist."""


class ServiceException(ServiceError):
    """500: an internal error in Image Builder. Retrying may succeed."""


class ServiceUnavailableException(ServiceError):
    """503: the service is unable to process the request right now."""


class WaiterError(ImageBuilderError):
    """A waiter stopped polling without reaching the state it waited for.

    Attributes:
        waiter_name: the waiter, such as ``"ImageCancelled"``.
        last_response: the last GetImage answer, or ``None`` if no poll succeeded.
    """

    def __init__(
        self, message: str, *, waiter_name: str, last_response: GetImageResponse | None
    ) -> None:
        self.waiter_name = waiter_name
        self.last_response = last_response
        super().__init__(message)


class WaiterFailureError(WaiterError):
    """The image reached a state from which the awaited state cannot follow.

    Attributes:
        status: the image's status, such as ``"FAILED"``.
        reason: the service's ``state.reason``, or ``None``.
    """

    def __init__(
        self,
        *,
        waiter_name: str,
        status: str,
        reason: str | None,
        last_response: GetImageResponse,
    ) -> None:
        self.status = status
        self.reason = reason
        text = f"Waiter {waiter_name} failed: the image is {status}"
        if reason:
            text += f" ({reason})"
        super().__init__(text, waiter_name=waiter_name, last_response=last_response)


class WaiterTimeoutError(WaiterError):
    """``max_wait`` passed before the awaited state was reached.

    Attributes:
        waited: seconds from the first poll to giving up.
        attempts: how many polls were made.
        last_error: the retryable error of the last poll, if its retries ran out.
    """

    def __init__(
        self,
        *,
        waiter_name: str,
        waited: float,
        attempts: int,
        last_response: GetImageResponse | None,
        last_error: ImageBuilderError | None = None,
    ) -> None:
        self.waited = waited
        self.attempts = attempts
        self.last_error = last_error
        status = _status_of(last_response)
        text = (
            f"Waiter {waiter_name} timed out after {waited:.0f} s and {attempts} "
            f"poll{'s' if attempts != 1 else ''}; last status: {status}"
        )
        if last_error is not None:
            text += f"; last error: {type(last_error).__name__}"
        super().__init__(text, waiter_name=waiter_name, last_response=last_response)


def _status_of(response: GetImageResponse | None) -> str:
    if response is None or response.image is None or response.image.state is None:
        return "unknown"
    return response.image.state.status or "unknown"


#: Modeled error code -> exception class. Unknown codes use ServiceError.
MODELED_ERRORS: Mapping[str, type[ServiceError]] = {
    cls.__name__: cls
    for cls in (
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
}
