"""Client configuration: settings resolved from arguments and the environment."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ._endpoints import resolve_endpoint, validate_region
from ._errors import ConfigurationError, ParamValidationError

DEFAULT_MAX_ATTEMPTS = 3


@attrs.frozen(kw_only=True)
class ClientConfig:
    """The settings a client runs with, once every source has been consulted."""

    region: str
    endpoint_url: str
    max_attempts: int


def validate_max_attempts(value: object, source: str = "max_attempts") -> int:
    """Check that ``value`` is a whole number of attempts, at least 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamValidationError(source, "must be an int", value)
    if value < 1:
        raise ParamValidationError(source, "must be at least 1 (1 means no retries)", value)
    return value


def resolve_config(
    *,
    env: Mapping[str, str],
    region: str | None = None,
    endpoint_url: str | None = None,
    use_fips_endpoint: bool | None = None,
    use_dualstack_endpoint: bool | None = None,
    max_attempts: int | None = None,
) -> ClientConfig:
    """Resolve the client's settings: arguments first, then the environment."""
    if max_attempts is not None:
        max_attempts = validate_max_attempts(max_attempts)
    region = (
        region if region is not None else env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    )
    if region is None:
        # Even a custom endpoint needs a region: SigV4 signs with it.
        raise ConfigurationError(
            "Invalid configuration: missing region. Pass region=, or set AWS_REGION "
            "or AWS_DEFAULT_REGION"
        )
    region = validate_region(region)
    resolved_endpoint = resolve_endpoint(
        region=region,
        endpoint_url=endpoint_url,
        use_fips=bool(use_fips_endpoint),
        use_dualstack=bool(use_dualstack_endpoint),
    )
    return ClientConfig(
        region=region,
        endpoint_url=resolved_endpoint,
        max_attempts=max_attempts if max_attempts is not None else DEFAULT_MAX_ATTEMPTS,
    )
