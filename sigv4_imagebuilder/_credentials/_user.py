"""The ``credentials=`` argument: fixed credentials, a provider, or a callable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, Union, runtime_checkable

from .._actions import Flow, RunBlocking
from .._errors import CredentialRetrievalError, ParamValidationError
from ._model import Credentials
from ._resolver import CredentialResolver


@runtime_checkable
class CredentialProvider(Protocol):
    """Anything that can hand out current credentials.

    Pass one as ``credentials=`` to plug in credentials from elsewhere (an SSO
    session of your own, a vault). Return credentials with ``expiration`` set
    and the client caches them until 15 minutes before they expire; without
    it, the provider is asked on every call. A provider that returns anything
    but ``Credentials`` breaks its contract: the call raises
    ``CredentialRetrievalError`` saying so.

    Example:
        >>> class FromVault:
        ...     def get_credentials(self) -> Credentials:
        ...         return Credentials("AKIDEXAMPLE", "secret")
        >>> isinstance(FromVault(), CredentialProvider)
        True
    """

    def get_credentials(self) -> Credentials:
        """Return the credentials to sign the next request with."""
        ...


CredentialsArg = Union[Credentials, CredentialProvider, Callable[[], Credentials], None]


def _provider_flow(call: Callable[[], Credentials], where: str) -> Flow[Credentials]:
    value = yield RunBlocking(call)  # the user's code may block: a worker thread in async code
    if not isinstance(value, Credentials):
        raise CredentialRetrievalError(
            f"credentials provider {where} broke its contract: it returned "
            f"{type(value).__name__}, expected sigv4_imagebuilder.Credentials"
        )
    return value


def resolver_for(
    credentials: CredentialsArg, default: Callable[[], CredentialResolver]
) -> CredentialResolver:
    """Turn the ``credentials=`` argument into a resolver.

    Raises:
        ParamValidationError: ``credentials`` is none of the accepted kinds.
    """
    if credentials is None:
        return default()
    if isinstance(credentials, Credentials):
        fixed = credentials
        # Fetched again only if given with an expiration that comes due: they
        # are all there is, so they are then used as given.
        return CredentialResolver(
            lambda: _provider_flow(lambda: fixed, "Credentials"), initial=fixed
        )
    if isinstance(credentials, CredentialProvider):
        call = credentials.get_credentials
        where = type(credentials).__name__
    elif callable(credentials):
        call = credentials
        where = getattr(credentials, "__name__", "credentials")
    else:
        raise ParamValidationError(
            "credentials",
            "must be Credentials, an object with get_credentials(), or a zero-argument callable",
            type(credentials).__name__,
        )
    return CredentialResolver(lambda: _provider_flow(call, where), cache_unexpiring=False)
