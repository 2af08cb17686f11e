"""The credentials room: the ``Credentials`` type, the sources, and the caching resolver.

* ``_model``: ``Credentials``, checked when made;
* ``_user``: the ``credentials=`` argument (fixed credentials, a provider);
* ``_resolver``: caching and refresh, written once for both clients;
* ``_chain``: the default chain's order, one module per source
  (``_environment``, ``_assume_role``, ``_web_identity``, ``_shared_keys``,
  ``_process``, ``_container``, ``_imds``) and ``_sts`` for the STS calls;
* ``_common``: what the sources share; they yield the flow actions of ``.._actions``.

The chain is imported only by clients that use it (it pulls in subprocess,
xml and ipaddress).
"""

from __future__ import annotations

from ._model import Credentials
from ._resolver import CredentialResolver
from ._user import CredentialProvider, CredentialsArg, resolver_for

__all__ = [
    "CredentialProvider",
    "CredentialResolver",
    "Credentials",
    "CredentialsArg",
    "resolver_for",
]
