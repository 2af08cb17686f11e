"""The suite's network guard (tests/network_guard.py): only this machine is reachable.

Every test here that aims at another host runs under ``recording_only()``: the real socket
calls are replaced by recorders, so nothing could leave even if the guard were broken, and
the tests assert that the guard refused before anything was passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from pathlib import Path

import httpx
import pytest
from conftest import ARN, PLAIN_CREDS, _fail_on_refusals
from credentials_support import env_for, resolve
from network_guard import NetworkGuard, NetworkGuardError

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import LoopbackServer, Reply

AWS_HOST = "imagebuilder.us-east-1.amazonaws.com"


def _refused_hosts(guard: NetworkGuard) -> list[object]:
    return [e.host for e in guard.take_refused()]


@pytest.mark.parametrize(
    ("family", "address"),
    [
        (socket.AF_INET, ("169.254.169.254", 80)),
        (socket.AF_INET, ("10.0.0.1", 443)),
        (socket.AF_INET6, ("fd00:ec2::23", 80, 0, 0)),
    ],
)
@pytest.mark.parametrize("method", ["connect", "connect_ex"])
def test_a_connect_elsewhere_is_refused_before_the_kernel_sees_it(
    network_guard: NetworkGuard, family: int, address: tuple[object, ...], method: str
) -> None:
    with (
        network_guard.recording_only() as calls,
        socket.socket(family) as sock,
        pytest.raises(NetworkGuardError, match=re.escape(repr(address[0]))),
    ):
        getattr(sock, method)(address)
    assert calls == []
    assert _refused_hosts(network_guard) == [address[0]]


def test_a_datagram_elsewhere_is_refused(network_guard: NetworkGuard) -> None:
    with (
        network_guard.recording_only() as calls,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(NetworkGuardError, match=re.escape("10.0.0.1")),
    ):
        sock.sendto(b"x", ("10.0.0.1", 53))
    assert calls == []
    assert _refused_hosts(network_guard) == ["10.0.0.1"]


@pytest.mark.parametrize(
    "lookup",
    [
        lambda: socket.getaddrinfo(AWS_HOST, 443),
        lambda: socket.gethostbyname(AWS_HOST),
        lambda: socket.gethostbyname_ex(AWS_HOST),
        lambda: socket.create_connection((AWS_HOST, 443)),
    ],
    ids=["getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection"],
)
def test_an_aws_host_name_is_not_even_looked_up(
    network_guard: NetworkGuard, lookup: object
) -> None:
    with (
        network_guard.recording_only() as calls,
        pytest.raises(NetworkGuardError, match=re.escape(AWS_HOST)),
    ):
        lookup()  # type: ignore[operator]
    assert calls == []
    assert _refused_hosts(network_guard) == [AWS_HOST]


def test_httpx_to_an_aws_host_is_refused(network_guard: NetworkGuard) -> None:
    with network_guard.recording_only() as calls, pytest.raises(NetworkGuardError):
        httpx.get(f"https://{AWS_HOST}/", timeout=1)
    assert calls == []
    assert _refused_hosts(network_guard) == [AWS_HOST]


@pytest.mark.parametrize("host", ["169.254.169.254", AWS_HOST])
async def test_an_asyncio_connection_elsewhere_is_refused(
    network_guard: NetworkGuard, host: str
) -> None:
    with (
        network_guard.recording_only() as calls,
        pytest.raises(NetworkGuardError, match=re.escape(host)),
    ):
        await asyncio.wait_for(asyncio.open_connection(host, 80), timeout=5)
    assert calls == []
    assert _refused_hosts(network_guard) == [host]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_this_machine_is_reachable_sync_and_async(host: str) -> None:
    with LoopbackServer(lambda r: Reply(body=b"here")) as server:
        url = f"http://{host}:{server.port}/"
        assert httpx.get(url, timeout=5).content == b"here"
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(url)).content == b"here"


def test_the_ipv6_loopback_is_allowed(network_guard: NetworkGuard) -> None:
    network_guard.check("a connection", "::1")  # returns: nothing is raised or recorded
    assert network_guard.take_refused() == []


def test_the_default_client_never_reaches_the_real_service(network_guard: NetworkGuard) -> None:
    with (
        network_guard.recording_only() as calls,
        sib.ImageBuilderClient(region="us-east-1", credentials=PLAIN_CREDS, max_attempts=1) as c,
        pytest.raises((NetworkGuardError, sib.ImageBuilderError)),
    ):
        c.cancel_image_creation(ARN)
    assert calls == []
    assert _refused_hosts(network_guard) == [AWS_HOST]


@pytest.mark.parametrize(
    ("extra", "host"),
    [
        ({}, "169.254.169.254"),  # instance metadata, enabled, at its default address
        ({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"}, "169.254.170.2"),
    ],
    ids=["instance-metadata", "container"],
)
def test_the_credential_sources_defaults_hit_the_guard(
    network_guard: NetworkGuard, tmp_path: Path, extra: dict[str, str], host: str
) -> None:
    env = env_for(tmp_path, **extra)
    del env["AWS_EC2_METADATA_DISABLED"]
    with network_guard.recording_only() as calls, pytest.raises(Exception) as info:
        resolve(env)
    assert calls == []
    refused = _refused_hosts(network_guard)
    assert refused and set(refused) == {host}
    # However the chain reports it, the guard's error is what stopped it.
    chain: BaseException | None = info.value
    while chain is not None and not isinstance(chain, NetworkGuardError):
        chain = chain.__cause__ or chain.__context__
    assert chain is not None and host in str(chain)


def test_a_refusal_the_code_swallowed_still_fails_the_test(network_guard: NetworkGuard) -> None:
    with contextlib.suppress(NetworkGuardError):  # as a chain trying its next source would
        network_guard.check("a connection", "10.0.0.1")
    with pytest.raises(NetworkGuardError, match=re.escape("10.0.0.1")):
        _fail_on_refusals("the test")
    assert network_guard.take_refused() == []


def test_a_name_no_lookup_could_encode_fails_as_python_fails_it(
    network_guard: NetworkGuard,
) -> None:
    # A label over 63 bytes: getaddrinfo itself raises before any query; so does the guard.
    with network_guard.recording_only() as calls, pytest.raises(UnicodeError):
        socket.getaddrinfo(f"{'a' * 64}.invalid", 80)
    assert calls == []
    assert network_guard.take_refused() == []
