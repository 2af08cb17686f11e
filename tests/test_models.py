"""Public models and the exported names."""

from __future__ import annotations

import datetime
import json
import pickle
from types import MappingProxyType

import attrs
import pytest

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._models import freeze


def test_exported_names_are_guarded() -> None:
    assert sib.__all__ == sorted(sib.__all__)
    assert set(sib.__all__) == {
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

    assert len(MODELED_ERRORS) == 10
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


def _rich_get_image_response() -> sib.GetImageResponse:
    from sigv4_imagebuilder._http import HttpResponse
    from sigv4_imagebuilder._operations import GET_IMAGE
    from sigv4_imagebuilder._protocol import parse_success

    body = {
        "requestId": "req-1",
        "image": {
            "arn": "arn:aws:imagebuilder:us-east-1:123456789012:image/r/1.0.0/1",
            "name": "r",
            "state": {"status": "FAILED", "reason": "boom"},
            "tags": {"team": "build", "empty": ""},
            "outputResources": {
                "amis": [{"region": "us-east-1", "image": "ami-1", "state": {"status": "OK"}}],
                "containers": [{"region": "eu-west-1", "imageUris": ["a", "b"]}],
            },
            "futureField": {"nested": [1, 2.5, None, True, {"deep": ["x"]}]},
        },
        "latestVersionReferences": {"latestVersionArn": "arn:latest"},
    }
    reply = HttpResponse(
        status_code=200, headers={"x-amzn-requestid": "req-1"}, body=json.dumps(body).encode()
    )
    return parse_success(GET_IMAGE, reply, 2)


def _public_models() -> list[object]:
    rich = _rich_get_image_response()
    assert rich.image is not None and rich.image.output_resources is not None
    metadata = sib.ResponseMetadata(
        request_id="r", http_status_code=200, http_headers={"a": "b"}, retry_attempts=1
    )
    summary = sib.ImageSummary(
        arn="arn",
        state=sib.ImageState(status="BUILDING"),
        tags=freeze({"k": "v"}),
        raw=freeze({"arn": "arn", "tags": {"k": "v"}}),
    )
    return [
        rich,
        rich.image,
        rich.image.state,
        rich.image.output_resources,
        rich.image.output_resources.amis[0],
        rich.image.output_resources.containers[0],
        rich.latest_version_references,
        metadata,
        sib.CancelImageCreationResponse(
            request_id="r", client_token="t", image_build_version_arn="arn", metadata=metadata
        ),
        sib.GetImageResponse(
            request_id=None, image=sib.Image(), latest_version_references=None, metadata=metadata
        ),
        summary,
        sib.ListImagePipelineImagesResponse(
            image_summary_list=(summary,), next_token="n", request_id="r", metadata=metadata
        ),
        sib.ListImageBuildVersionsResponse(
            image_summary_list=(), next_token=None, request_id=None, metadata=metadata
        ),
        sib.BuildCancelOutcome(
            image_build_version_arn="arn", outcome="failed", status="BUILDING", error=None
        ),
    ]


def test_every_public_model_is_covered_by_the_pickle_test() -> None:
    from sigv4_imagebuilder import _models

    public = {
        getattr(sib, name)
        for name in sib.__all__
        if attrs.has(getattr(sib, name)) and getattr(sib, name).__module__ == _models.__name__
    }
    assert {type(model) for model in _public_models()} == public


@pytest.mark.parametrize("model", _public_models(), ids=lambda m: type(m).__name__)
def test_public_models_round_trip_through_pickle(model: object) -> None:
    # Batch users ship results between processes (ProcessPoolExecutor); the
    # read-only ``raw`` and ``tags`` mappings once made pickle raise TypeError.
    back = pickle.loads(pickle.dumps(model))
    assert type(back) is type(model)
    assert back == model
    assert repr(back) == repr(model)


def test_an_unpickled_image_is_read_only_again() -> None:
    image = pickle.loads(pickle.dumps(_rich_get_image_response())).image
    assert isinstance(image.raw, MappingProxyType)
    assert isinstance(image.tags, MappingProxyType)
    assert image.raw["futureField"]["nested"][4] == {"deep": ("x",)}
    with pytest.raises(TypeError):
        image.raw["arn"] = "changed"  # type: ignore[index]
    assert hash(image) == hash(_rich_get_image_response().image)
