"""The constructor arguments both clients share, as one object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

import attrs
import httpx

from ._credentials import CredentialsArg
from ._errors import ParamValidationError
from ._retries import RetryPolicy

#: A finite connect timeout and a finite read timeout, unlike httpx's 5 s for all.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

TimeoutArg = Union[float, int, httpx.Timeout, None]

#: In-flight requests per client by default (httpx's own default pool size).
DEFAULT_MAX_CONCURRENCY = 100


#: The longest timeout or deadline accepted, seconds. Longer ones are surely
#: mistakes, and past about 1e9 the socket layer overflows at connect time.
MAX_TIMEOUT = 24 * 3600.0


def _positive_finite(value: object) -> bool:
    # Compare before isfinite(): isfinite(10**400) itself overflows; a NaN
    # fails the comparison.
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= MAX_TIMEOUT
    )


def check_timeout(timeout: object) -> httpx.Timeout | None:
    """Return ``timeout`` as an ``httpx.Timeout`` (or None for httpx's own).

    Raises:
        ParamValidationError: not a positive finite number or an
            ``httpx.Timeout`` whose set phases are positive and finite
            (``inf`` would overflow at connect time, ``nan`` never expires).
    """
    if timeout is None:
        return None
    if isinstance(timeout, httpx.Timeout):
        phases = timeout.as_dict().values()
        if all(phase is None or _positive_finite(phase) for phase in phases):
            return timeout
    elif _positive_finite(timeout):
        assert isinstance(timeout, (int, float))
        return httpx.Timeout(float(timeout))
    raise ParamValidationError(
        "timeout",
        f"must be a positive number of seconds up to {MAX_TIMEOUT:.0f}, or an httpx.Timeout "
        "of such",
        timeout,
    )


def check_attempt_timeout(value: object) -> float | None:
    """Validate ``attempt_timeout``: None, or positive seconds up to :data:`MAX_TIMEOUT`."""
    if value is None:
        return None
    if not _positive_finite(value):
        raise ParamValidationError(
            "attempt_timeout", f"must be positive seconds up to {MAX_TIMEOUT:.0f}", value
        )
    assert isinstance(value, (int, float))
    return float(value)


def check_max_concurrency(value: object) -> int | None:
    """Validate ``max_concurrency``: None, or an int of at least 1."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ParamValidationError("max_concurrency", "must be an int of at least 1", value)
    return value


def _check_env(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # A list or a str would fail later as a raw AttributeError ('.get'). Only
    # the type is shown: an environment holds secrets.
    if value is not None and not isinstance(value, Mapping):
        raise ParamValidationError(
            "env", "must be a mapping such as os.environ (the type is shown)", type(value).__name__
        )


@attrs.frozen(kw_only=True)
class ClientOptions:
    """Everything a client is built from, except its ``http_client``.

    The clients' keyword arguments, gathered so that the shared base takes
    one object; see :class:`ImageBuilderClient` for what each one means.
    Values are checked by the client, not here, except ``env``: the client
    reads the shared files from it before anything else, so it is checked
    when the options are made.
    """

    region: str | None = None
    credentials: CredentialsArg = attrs.field(default=None, repr=False)
    endpoint_url: str | None = None
    use_fips_endpoint: bool | None = None
    use_dualstack_endpoint: bool | None = None
    max_attempts: int | None = None
    timeout: TimeoutArg = None
    attempt_timeout: float | None = None
    max_concurrency: int | None = None
    retry_policy: RetryPolicy | None = None
    env: Mapping[str, str] | None = attrs.field(default=None, repr=False, validator=_check_env)
    profile: str | None = None
