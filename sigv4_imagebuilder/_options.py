"""The constructor arguments both clients share, as one object."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ._credentials import CredentialsArg
from ._retries import RetryPolicy
from ._transport import TimeoutArg


@attrs.frozen(kw_only=True)
class ClientOptions:
    """Everything a client is built from, except its ``http_client``.

    The clients' keyword arguments, gathered so that the shared base takes
    one object; see :class:`ImageBuilderClient` for what each one means.
    Values are checked by the client, not here.
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
    env: Mapping[str, str] | None = attrs.field(default=None, repr=False)
    profile: str | None = None
