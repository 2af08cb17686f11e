"""The caching resolver: refresh windows, one refresh at a time, shared outcomes."""

from __future__ import annotations

import asyncio
import datetime
import threading
from pathlib import Path

import pytest
from credentials_support import (
    PLAIN,
    UTC,
    Clock,
    ContainerServer,
    env_for,
    run_sync,
)

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._credentials import CredentialResolver
from sigv4_imagebuilder._flow import Flow, RunBlocking
from sigv4_imagebuilder.testing import LoopbackServer


def test_refresh_windows_with_an_injected_clock() -> None:
    clock = Clock()
    expiry = clock.now + datetime.timedelta(hours=1)
    fetched: list[int] = []
    failing = {"on": False}

    def fetch() -> sib.Credentials:
        if failing["on"]:
            raise sib.CredentialRetrievalError("source down")
        fetched.append(1)
        return sib.Credentials(
            f"KEY{len(fetched)}",
            "s",
            expiration=expiry + datetime.timedelta(hours=len(fetched) - 1),
        )

    def flow() -> Flow[sib.Credentials]:
        return (yield RunBlocking(fetch))

    resolver = CredentialResolver(flow, clock=clock)
    assert run_sync(resolver.flow()).access_key_id == "KEY1"
    clock.now = expiry - datetime.timedelta(minutes=16)
    assert run_sync(resolver.flow()).access_key_id == "KEY1" and len(fetched) == 1
    # Advisory window (15 min): a failed refresh keeps the cached credentials.
    clock.now = expiry - datetime.timedelta(minutes=12)
    failing["on"] = True
    assert run_sync(resolver.flow()).access_key_id == "KEY1"
    # Mandatory window (10 min): a failed refresh is raised.
    clock.now = expiry - datetime.timedelta(minutes=9)
    with pytest.raises(sib.CredentialRetrievalError, match="source down"):
        run_sync(resolver.flow())
    failing["on"] = False
    assert run_sync(resolver.flow()).access_key_id == "KEY2"


async def test_async_refresh_windows() -> None:
    clock = Clock()
    expiry = clock.now + datetime.timedelta(minutes=12)
    count = {"n": 0}

    def fetch() -> sib.Credentials:
        count["n"] += 1
        if count["n"] > 1:
            raise sib.CredentialRetrievalError("down")
        return sib.Credentials("K", "s", expiration=expiry)

    def flow() -> Flow[sib.Credentials]:
        return (yield RunBlocking(fetch))

    resolver = CredentialResolver(flow, clock=clock)
    async with sib.AsyncImageBuilderClient(region="us-east-1", credentials=PLAIN) as client:
        assert (await client._run(resolver.flow())).access_key_id == "K"  # first fetch
        # Advisory window: the failed refresh is tolerated.
        assert (await client._run(resolver.flow())).access_key_id == "K"
        clock.now += datetime.timedelta(minutes=5)
        with pytest.raises(sib.CredentialRetrievalError):
            await client._run(resolver.flow())


def test_many_threads_cause_one_refresh(tmp_path: Path) -> None:
    container = ContainerServer()
    with LoopbackServer(container) as server:
        env = env_for(tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.endpoint_url + "/creds")
        client = sib.ImageBuilderClient(env=env)
        barrier = threading.Barrier(16)
        got: list[str] = []

        def worker() -> None:
            barrier.wait()
            got.append(client._run(client._credentials.flow()).access_key_id)

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        client.close()
    assert len(container.received) == 1
    assert got == ["ASIACONTAINER1"] * 16


async def test_many_tasks_cause_one_refresh(tmp_path: Path) -> None:
    container = ContainerServer()
    with LoopbackServer(container) as server:
        env = env_for(tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.endpoint_url + "/creds")
        async with sib.AsyncImageBuilderClient(env=env) as client:
            got = await asyncio.gather(
                *(client._run(client._credentials.flow()) for _ in range(16))
            )
    assert len(container.received) == 1
    assert {c.access_key_id for c in got} == {"ASIACONTAINER1"}


def test_expiring_credentials_are_refreshed_by_the_client(tmp_path: Path) -> None:
    soon = (datetime.datetime.now(UTC) + datetime.timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    container = ContainerServer(expiration=soon)
    with LoopbackServer(container) as server:
        env = env_for(tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI=server.endpoint_url + "/creds")
        with sib.ImageBuilderClient(env=env) as client:
            first = client._run(client._credentials.flow())
            second = client._run(client._credentials.flow())
    # Inside the mandatory window: every ask fetches anew.
    assert (first.access_key_id, second.access_key_id) == ("ASIACONTAINER1", "ASIACONTAINER2")


def test_user_provider_cached_only_while_its_expiration_allows(tmp_path: Path) -> None:
    calls: list[int] = []

    def provider() -> sib.Credentials:
        calls.append(1)
        return sib.Credentials(
            "P", "s", expiration=datetime.datetime.now(UTC) + datetime.timedelta(hours=1)
        )

    client = sib.ImageBuilderClient(region="us-east-1", credentials=provider)
    client._run(client._credentials.flow())
    client._run(client._credentials.flow())
    assert len(calls) == 1
