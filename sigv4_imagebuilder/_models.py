"""The public data types: credentials, the call's result and its metadata."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import attrs


def _non_empty_str(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    # Raise ValueError/TypeError without echoing the value: it may be a secret.
    if not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{attribute.name} must not be empty")


def _optional_non_empty_str(
    instance: object, attribute: attrs.Attribute[str | None], value: object
) -> None:
    if value is not None:
        _non_empty_str(instance, attribute, value)  # type: ignore[arg-type]


@attrs.frozen(repr=False)
class Credentials:
    """AWS credentials used to sign requests.

    The repr shows the access key id (it is not secret: it travels in every
    signed request) and never the secret key or the session token.

    Args:
        access_key_id: the access key id, such as ``AKIA...`` or ``ASIA...``.
        secret_access_key: the secret access key.
        session_token: the session token of temporary credentials.
        expiration: when temporary credentials expire (timezone-aware, UTC);
            ``None`` for credentials that do not expire.

    Example:
        >>> Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", session_token="tok")
        Credentials(access_key_id='AKIDEXAMPLE', secret_access_key='***', session_token='***')
    """

    access_key_id: str = attrs.field(validator=_non_empty_str)
    secret_access_key: str = attrs.field(validator=_non_empty_str)
    session_token: str | None = attrs.field(
        default=None, kw_only=True, validator=_optional_non_empty_str
    )
    expiration: datetime.datetime | None = attrs.field(default=None, kw_only=True)

    def __repr__(self) -> str:
        token = "None" if self.session_token is None else "'***'"
        parts = [
            f"access_key_id={self.access_key_id!r}",
            "secret_access_key='***'",
            f"session_token={token}",
        ]
        if self.expiration is not None:
            parts.append(f"expiration={self.expiration.isoformat()!r}")
        return f"Credentials({', '.join(parts)})"


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
