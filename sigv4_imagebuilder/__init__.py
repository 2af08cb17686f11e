"""A small, typed, async-native client for EC2 Image Builder: cancel a build, read it, wait for it.

Example:
    >>> import sigv4_imagebuilder as sib
    >>> sib.Credentials("AKIDEXAMPLE", "secret")
    Credentials(access_key_id='AKIDEXAMPLE', secret_access_key='***', session_token=None)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._credentials import CredentialProvider, Credentials
from ._errors import (
    CallRateLimitExceededException,
    ClientException,
    ConfigurationError,
    ConnectError,
    ConnectionClosedError,
    CredentialRetrievalError,
    ForbiddenException,
    IdempotentParameterMismatchException,
    ImageBuilderError,
    InvalidRequestException,
    NoCredentialsError,
    ParamValidationError,
    ResourceInUseException,
    ResponseParseError,
    ServiceError,
    ServiceException,
    ServiceUnavailableException,
    TransportError,
    TransportTimeoutError,
    WaiterError,
    WaiterFailureError,
    WaiterTimeoutError,
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
)
from ._retries import RetryPolicy
from ._version import __version__

if TYPE_CHECKING:
    from ._client import AsyncImageBuilderClient, ImageBuilderClient

__all__ = [
    "Ami",
    "AsyncImageBuilderClient",
    "CallRateLimitExceededException",
    "CancelImageCreationResponse",
    "ClientException",
    "ConfigurationError",
    "ConnectError",
    "ConnectionClosedError",
    "Container",
    "CredentialProvider",
    "CredentialRetrievalError",
    "Credentials",
    "ForbiddenException",
    "GetImageResponse",
    "IdempotentParameterMismatchException",
    "Image",
    "ImageBuilderClient",
    "ImageBuilderError",
    "ImageState",
    "InvalidRequestException",
    "LatestVersionReferences",
    "NoCredentialsError",
    "OutputResources",
    "ParamValidationError",
    "ResourceInUseException",
    "ResponseMetadata",
    "ResponseParseError",
    "RetryPolicy",
    "ServiceError",
    "ServiceException",
    "ServiceUnavailableException",
    "TransportError",
    "TransportTimeoutError",
    "WaiterError",
    "WaiterFailureError",
    "WaiterTimeoutError",
    "__version__",
]

_LAZY = {"AsyncImageBuilderClient", "ImageBuilderClient"}


def __getattr__(name: str) -> Any:
    # The clients pull in httpx (~60 ms); importing the package for its types
    # or exceptions should not pay for that.
    if name in _LAZY:
        from . import _client

        value = getattr(_client, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
