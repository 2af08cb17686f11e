"""The operations' results and their metadata (credentials live in ``_credentials``)."""

from __future__ import annotations

from collections.abc import Mapping

import attrs


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
