"""The caching resolver: refresh windows, one refresh at a time, shared outcomes."""

from __future__ import annotations

import asyncio
import datetime
import threading
from pathlib import Path
from typing import Any

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
from sigv4_imagebuilder._actions import Flow, RunBlocking
from sigv4_imagebuilder._credentials import CredentialResolver
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


class CountingLock:
    """A threading.Lock that counts acquire attempts and signals when ``n`` were made."""

    def __init__(self, n: int) -> None:
        self.lock = threading.Lock()
        self.attempts = 0
        self.guard = threading.Lock()
        self.all_arrived = threading.Event()
        self.n = n

    def acquire(self, blocking: bool = True) -> bool:
        with self.guard:
            self.attempts += 1
            if self.attempts >= self.n:
                self.all_arrived.set()
        return self.lock.acquire(blocking)

    def release(self) -> None:
        self.lock.release()


def _in_advisory_window(clock: Clock) -> tuple[sib.Credentials, datetime.datetime]:
    expiry = clock.now + datetime.timedelta(minutes=12)
    return sib.Credentials("OLD", "s", expiration=expiry), expiry


def test_advisory_window_one_refresh_and_nobody_waits() -> None:
    clock = Clock()
    old, expiry = _in_advisory_window(clock)
    others_done = threading.Event()
    fetches: list[int] = []
    results: list[str] = []
    guard = threading.Lock()

    def fetch() -> sib.Credentials:
        fetches.append(1)
        # The refresh is still in flight when every other caller has returned:
        # they did not wait for it.
        assert others_done.wait(30)
        return sib.Credentials("NEW", "s", expiration=expiry + datetime.timedelta(hours=1))

    def flow() -> Flow[sib.Credentials]:
        return (yield RunBlocking(fetch))

    resolver = CredentialResolver(flow, clock=clock, initial=old)
    lock = threading.Lock()

    def worker() -> None:
        got = run_sync(resolver.flow(), lock).access_key_id
        with guard:
            results.append(got)
            if results.count("OLD") == 99:
                others_done.set()

    threads = [threading.Thread(target=worker) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(fetches) == 1
    assert sorted(results) == ["NEW"] + ["OLD"] * 99
    assert run_sync(resolver.flow(), lock).access_key_id == "NEW"


@pytest.mark.parametrize("outcome", ["fails", "succeeds"])
def test_mandatory_window_waiters_share_the_one_refresh(outcome: str) -> None:
    lock = CountingLock(20)
    runs: list[int] = []

    def fetch() -> sib.Credentials:
        runs.append(1)
        assert lock.all_arrived.wait(30)  # a hanging source, until all 20 are waiting
        if outcome == "fails":
            raise sib.CredentialRetrievalError("instance metadata: timed out")
        return sib.Credentials("SHARED", "s")

    def flow() -> Flow[sib.Credentials]:
        return (yield RunBlocking(fetch))

    # Nothing cached and nothing kept: every call is in the mandatory window.
    resolver = CredentialResolver(flow, cache_unexpiring=False)
    results: list[object] = []

    def worker() -> None:
        try:
            results.append(run_sync(resolver.flow(), lock).access_key_id)  # type: ignore[arg-type]
        except sib.CredentialRetrievalError as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(runs) == 1 and len(results) == 20
    if outcome == "fails":
        assert all(isinstance(r, sib.CredentialRetrievalError) for r in results)
        assert all("timed out" in str(r) for r in results)
    else:
        assert results == ["SHARED"] * 20


async def test_async_advisory_and_mandatory_windows_refresh_once() -> None:
    clock = Clock()
    old, expiry = _in_advisory_window(clock)
    others_done = threading.Event()
    runs: list[int] = []

    def provider() -> sib.Credentials:
        runs.append(1)
        assert others_done.wait(30)
        return sib.Credentials("NEW", "s", expiration=expiry + datetime.timedelta(hours=1))

    async with sib.AsyncImageBuilderClient(region="us-east-1", credentials=PLAIN) as client:
        resolver = CredentialResolver(lambda: _provider(provider), clock=clock, initial=old)
        done: list[str] = []

        async def one() -> str:
            got = (await client._run(resolver.flow())).access_key_id
            done.append(got)
            if done.count("OLD") == 99:
                others_done.set()
            return got

        got = await asyncio.gather(*(one() for _ in range(100)))
        assert len(runs) == 1 and sorted(got) == ["NEW"] + ["OLD"] * 99

        # Mandatory window: 20 tasks wait for one failing run of the source.
        arrived = threading.Event()
        attempts = {"n": 0}

        class CountingAsyncLock(asyncio.Lock):
            async def acquire(self) -> bool:
                attempts["n"] += 1
                if attempts["n"] >= 20:
                    arrived.set()
                return await super().acquire()

        client._credentials_lock = CountingAsyncLock()
        failing_runs: list[int] = []

        def failing() -> sib.Credentials:
            failing_runs.append(1)
            assert arrived.wait(30)
            raise sib.CredentialRetrievalError("container: HTTP 500")

        failing_resolver = CredentialResolver(lambda: _provider(failing))
        outcomes = await asyncio.gather(
            *(client._run(failing_resolver.flow()) for _ in range(20)), return_exceptions=True
        )
    assert len(failing_runs) == 1
    assert all(isinstance(o, sib.CredentialRetrievalError) for o in outcomes)


def _provider(call: Any) -> Flow[sib.Credentials]:
    return (yield RunBlocking(call))  # type: ignore[no-any-return]


def test_naive_and_extreme_expirations_from_a_provider(tmp_path: Path) -> None:
    calls: list[int] = []

    def naive() -> sib.Credentials:
        calls.append(1)
        # The common idiom: a naive UTC time. Taken as UTC, cached, never a TypeError.
        return sib.Credentials(
            "N",
            "s",
            expiration=datetime.datetime.now(UTC).replace(tzinfo=None)
            + datetime.timedelta(hours=1),
        )

    client = sib.ImageBuilderClient(region="us-east-1", credentials=naive)
    for _ in range(3):
        assert client._run(client._credentials.flow()).access_key_id == "N"
    assert len(calls) == 1
    for when in (datetime.datetime.min, datetime.datetime.max):
        fixed = sib.ImageBuilderClient(
            region="us-east-1", credentials=sib.Credentials("F", "s", expiration=when)
        )
        assert fixed._run(fixed._credentials.flow()).access_key_id == "F"


async def test_a_cancelled_refresh_releases_the_lock() -> None:
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def provider() -> sib.Credentials:
        calls.append(1)
        if len(calls) == 1:
            started.set()
            assert release.wait(30)
        return sib.Credentials("P", "s")

    async with sib.AsyncImageBuilderClient(region="us-east-1", credentials=provider) as client:
        task = asyncio.ensure_future(client._run(client._credentials.flow()))
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not client._credentials_lock.locked()
        release.set()
        assert (await client._run(client._credentials.flow())).access_key_id == "P"
