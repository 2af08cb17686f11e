"""Public models and the exported names."""

from __future__ import annotations

import datetime

import attrs
import pytest

import sigv4_imagebuilder as sib


def test_exported_names_are_guarded() -> None:
    assert sib.__all__ == sorted(sib.__all__)
    assert set(sib.__all__) == {
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
    }
    for name in sib.__all__:
        assert getattr(sib, name) is not None
    assert set(sib.__all__) <= set(dir(sib))
    with pytest.raises(AttributeError):
        sib.NotAThing  # noqa: B018


def test_credentials_repr_hides_secret_and_token() -> None:
    c = sib.Credentials(
        "AKID",
        "topsecret",
        session_token="tokentoken",
        expiration=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc),
    )
    text = repr(c) + str(c)
    assert "topsecret" not in text and "tokentoken" not in text
    assert "AKID" in text and "2030-01-01" in text
    assert repr(sib.Credentials("A", "B")).endswith("session_token=None)")


def test_credentials_are_frozen_and_validated() -> None:
    c = sib.Credentials("AKID", "s")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        c.access_key_id = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="secret_access_key must not be empty"):
        sib.Credentials("AKID", "")
    with pytest.raises(TypeError, match="access_key_id must be a str"):
        sib.Credentials(None, "s")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="session_token must not be empty"):
        sib.Credentials("A", "s", session_token="")


def test_error_tree() -> None:
    assert issubclass(sib.ParamValidationError, ValueError)
    for cls in (
        sib.ParamValidationError,
        sib.ConfigurationError,
        sib.NoCredentialsError,
        sib.ResponseParseError,
        sib.TransportError,
        sib.ServiceError,
        sib.CredentialRetrievalError,
    ):
        assert issubclass(cls, sib.ImageBuilderError)
    for cls in (sib.ConnectError, sib.ConnectionClosedError, sib.TransportTimeoutError):
        assert issubclass(cls, sib.TransportError)
    from sigv4_imagebuilder._errors import MODELED_ERRORS

    assert len(MODELED_ERRORS) == 8
    for code, cls in MODELED_ERRORS.items():
        assert cls.__name__ == code and issubclass(cls, sib.ServiceError)
        assert getattr(sib, code) is cls


def test_service_error_repr_and_response() -> None:
    err = sib.ServiceException(
        code="ServiceException",
        message="boom",
        status_code=500,
        request_id="rid",
        headers={"a": "b"},
        retry_attempts=2,
    )
    assert (
        repr(err)
        == "ServiceException(code='ServiceException', message='boom', status_code=500, request_id='rid')"
    )
    assert err.response["ResponseMetadata"]["RetryAttempts"] == 2
    err.retry_attempts = 3
    assert err.response["ResponseMetadata"]["RetryAttempts"] == 3
    assert (
        sib.ServiceError(code="X", status_code=400).response["ResponseMetadata"]["RequestId"] == ""
    )


def test_param_validation_error_truncates_long_values() -> None:
    err = sib.ParamValidationError("p", "rule", "v" * 1000)
    assert len(str(err)) < 300
