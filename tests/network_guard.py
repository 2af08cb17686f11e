"""The suite's network guard: a test may reach only this machine (127.0.0.1, ::1, localhost).

``conftest.py`` installs one guard for the whole session. It wraps the Python-level entry
points through which anything in this process reaches the network: ``socket.socket``'s
``connect``, ``connect_ex`` and ``sendto`` (which asyncio's selector loops call too), and
name lookups (``socket.getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``). A call for
any other host raises :class:`NetworkGuardError` naming it *before* the real call, so the
kernel never sees the connect and no name is looked up. Every refusal is also recorded, and
``conftest.py`` fails the test that made it even if the code under test swallowed the error.

Not covered, because they do not go through the ``socket`` module: child processes (the CLI
tests' children reach only the loopback stand-in they are given), and C-level networking such
as uvloop's connect and getaddrinfo (libuv) or c-ares resolvers.
"""

from __future__ import annotations

import _socket
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

ALLOWED_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

_INET_FAMILIES = (socket.AF_INET, socket.AF_INET6)


class NetworkGuardError(RuntimeError):
    """A test tried to reach a host other than this machine."""

    def __init__(self, what: str, host: object) -> None:
        self.host = host
        super().__init__(
            f"the network guard refused {what} to {host!r}: tests may reach only "
            f"{', '.join(sorted(ALLOWED_HOSTS))}"
        )


def _host_of(address: object) -> object:
    if isinstance(address, tuple) and address:
        return address[0]
    return address


class NetworkGuard:
    """Refuses, and records, every attempt to reach a host not in :data:`ALLOWED_HOSTS`.

    The ``real_*`` attributes are what an allowed call is passed on to; the guard's own
    tests replace them with recorders, so even a broken guard could send nothing.
    """

    def __init__(self) -> None:
        self.refused: list[NetworkGuardError] = []
        self.real_connect: Callable[..., Any] = _socket.socket.connect
        self.real_connect_ex: Callable[..., Any] = _socket.socket.connect_ex
        self.real_sendto: Callable[..., Any] = _socket.socket.sendto
        self.real_getaddrinfo: Callable[..., Any] = socket.getaddrinfo
        self.real_gethostbyname: Callable[..., Any] = socket.gethostbyname
        self.real_gethostbyname_ex: Callable[..., Any] = socket.gethostbyname_ex
        self._saved: dict[tuple[object, str], object] = {}

    def check(self, what: str, host: object) -> None:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        # None (and "") ask for this machine's own addresses: nothing is looked up.
        if name in (None, "") or name in ALLOWED_HOSTS:
            return
        if isinstance(name, str) and what == "a name lookup":
            # A name the lookup cannot even encode fails in Python before any query
            # (UnicodeError: label too long); fail the same way, as code under test expects.
            name.encode("idna")
        error = NetworkGuardError(what, name)
        self.refused.append(error)
        raise error

    def _check_socket(self, sock: socket.socket, what: str, address: object) -> None:
        if sock.family in _INET_FAMILIES:
            self.check(what, _host_of(address))

    def take_refused(self) -> list[NetworkGuardError]:
        """The refusals recorded so far, forgotten (a test that expects some takes them)."""
        refused, self.refused = self.refused, []
        return refused

    def install(self) -> None:
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            guard._check_socket(sock, "a connection", address)
            return guard.real_connect(sock, address)  # type: ignore[no-any-return]

        def connect_ex(sock: socket.socket, address: Any) -> int:
            guard._check_socket(sock, "a connection", address)
            return guard.real_connect_ex(sock, address)  # type: ignore[no-any-return]

        def sendto(sock: socket.socket, data: Any, *args: Any) -> int:
            guard._check_socket(sock, "a datagram", args[-1] if args else None)
            return guard.real_sendto(sock, data, *args)  # type: ignore[no-any-return]

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            guard.check("a name lookup", host)
            return guard.real_getaddrinfo(host, *args, **kwargs)

        def gethostbyname(host: Any) -> Any:
            guard.check("a name lookup", host)
            return guard.real_gethostbyname(host)

        def gethostbyname_ex(host: Any) -> Any:
            guard.check("a name lookup", host)
            return guard.real_gethostbyname_ex(host)

        replacements: list[tuple[object, str, object]] = [
            (socket.socket, "connect", connect),
            (socket.socket, "connect_ex", connect_ex),
            (socket.socket, "sendto", sendto),
            (socket, "getaddrinfo", getaddrinfo),
            (socket, "gethostbyname", gethostbyname),
            (socket, "gethostbyname_ex", gethostbyname_ex),
        ]
        for owner, name, replacement in replacements:
            self._saved[(owner, name)] = owner.__dict__.get(name)  # type: ignore[attr-defined]
            setattr(owner, name, replacement)

    def uninstall(self) -> None:
        for (owner, name), saved in self._saved.items():
            if saved is None:
                delattr(owner, name)
            else:
                setattr(owner, name, saved)
        self._saved.clear()

    @contextmanager
    def recording_only(self) -> Iterator[list[tuple[str, object]]]:
        """Replace every real call with a recorder: nothing can leave, even past a broken guard."""
        calls: list[tuple[str, object]] = []
        names = [n for n in vars(self) if n.startswith("real_")]
        saved = {n: getattr(self, n) for n in names}

        def recorder(name: str) -> Callable[..., Any]:
            def record(*args: Any, **kwargs: Any) -> Any:
                calls.append((name, args))
                raise OSError(f"recorded {name}; not passed on")

            return record

        for name in names:
            setattr(self, name, recorder(name))
        try:
            yield calls
        finally:
            for name, value in saved.items():
                setattr(self, name, value)
