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
    InvalidPaginationTokenException,
    InvalidRequestException,
    NoCredentialsError,
    ParamValidationError,
    ResourceInUseException,
    ResourceNotFoundException,
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
    BuildCancelOutcome,
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
)
from ._retries import RetryPolicy
from ._version import __version__

if TYPE_CHECKING:
    from ._async_client import AsyncImageBuilderClient
    from ._client import ImageBuilderClient

__all__ = [
    "Ami",
    "AsyncImageBuilderClient",
    "BuildCancelOutcome",
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
    "ImageSummary",
    "InvalidPaginationTokenException",
    "InvalidRequestException",
    "LatestVersionReferences",
    "ListImageBuildVersionsResponse",
    "ListImagePipelineImagesResponse",
    "NoCredentialsError",
    "OutputResources",
    "ParamValidationError",
    "ResourceInUseException",
    "ResourceNotFoundException",
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
        import importlib

        module = "_async_client" if name.startswith("Async") else "_client"
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
