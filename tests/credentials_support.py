"""Helpers shared by the credential tests: environments, drivers, a container server."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._actions import AcquireLock, Flow, RunBlocking
from sigv4_imagebuilder.testing import ReceivedRequest, Reply

UTC = datetime.timezone.utc

LATER = "2099-01-01T00:00:00Z"

PLAIN = sib.Credentials("AKIDPLAIN", "plain-secret")


def env_for(
    tmp_path: Path, config: str = "", credentials: str = "", **extra: str
) -> dict[str, str]:
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(credentials)
    return {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def resolve(env: dict[str, str], profile: str | None = None) -> sib.Credentials:
    """Run the default chain with the sync client's driver."""
    client = sib.ImageBuilderClient(env=env, profile=profile)
    with client:
        return client._run(client._credentials.flow())


async def aresolve(env: dict[str, str], profile: str | None = None) -> sib.Credentials:
    async with sib.AsyncImageBuilderClient(env=env, profile=profile) as client:
        return await client._run(client._credentials.flow())


class ContainerServer:
    def __init__(self, expiration: str = LATER) -> None:
        self.expiration = expiration
        self.received: list[ReceivedRequest] = []
        self.lock = threading.Lock()

    def __call__(self, request: ReceivedRequest) -> Reply:
        with self.lock:
            self.received.append(request)
            n = len(self.received)
        time.sleep(0.05)
        return Reply(
            body=json.dumps(
                {
                    "AccessKeyId": f"ASIACONTAINER{n}",
                    "SecretAccessKey": "cs",
                    "Token": "ct",
                    "Expiration": self.expiration,
                }
            ).encode()
        )


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime.datetime:
        return self.now


def run_sync(flow: Flow[Any], lock: threading.Lock | None = None) -> Any:
    """A minimal sync driver: RunBlocking inline, AcquireLock on a threading.Lock."""
    lock = lock or threading.Lock()
    try:
        action = next(flow)
        while True:
            if isinstance(action, AcquireLock):
                action = flow.send(lock if lock.acquire(blocking=action.blocking) else None)
                continue
            assert isinstance(action, RunBlocking)
            try:
                result = action.function()
            except Exception as exc:
                action = flow.throw(exc)
                continue
            action = flow.send(result)
    except StopIteration as stop:
        return stop.value


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    """``python -m sigv4_imagebuilder cancel-image-creation`` in a real subprocess.

    The endpoint is a closed loopback port: nothing can leave the machine.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(
        {
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    base.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sigv4_imagebuilder",
            "cancel-image-creation",
            "--image-build-version-arn",
            "arn:aws:imagebuilder:us-east-1:123456789012:image/x/1.0.0/1",
            "--region",
            "us-east-1",
            "--endpoint-url",
            "http://127.0.0.1:9",
            *args,
        ],
        capture_output=True,
        env=base,
        timeout=60,
        check=False,
    )
