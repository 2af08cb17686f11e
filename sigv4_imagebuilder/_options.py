"""The constructor arguments both clients share, as one object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._credentials import CredentialsArg
from ._errors import ParamValidationError
from ._retries import RetryPolicy
from ._transport import TimeoutArg


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
