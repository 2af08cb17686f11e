"""Helpers for the hostile-input tests: call both clients, collect every text, look for secrets."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import traceback
from collections.abc import Iterable
from typing import Any

import pytest
from conftest import ARN, CREDS, NO_SLEEP, SECRET, SESSION_TOKEN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder.testing import ReceivedRequest

#: Values that must never show anywhere (besides the signatures a test collects).
PASSWORD = "PASSWORDdistinctive9876"
SECRETS = (SECRET, SESSION_TOKEN, PASSWORD)


def client_kwargs(endpoint_url: str, **kwargs: Any) -> dict[str, Any]:
    return {
        "region": "us-east-1",
        "credentials": CREDS,
        "endpoint_url": endpoint_url,
        "retry_policy": NO_SLEEP,
        **kwargs,
    }


def outcome(mode: str, endpoint_url: str, **kwargs: Any) -> Any:
    """One cancel with the sync or async client; the result or the exception raised.

    ``http_client_factory(mode)`` makes a user's httpx client, closed afterwards.
    """
    factory = kwargs.pop("http_client_factory", None)
    options = client_kwargs(endpoint_url, **kwargs)
    try:
        if mode == "sync":
            http = factory("sync") if factory is not None else None
            try:
                with sib.ImageBuilderClient(**options, http_client=http) as client:
                    return client.cancel_image_creation(ARN)
            finally:
                if http is not None:
                    http.close()

        async def go() -> sib.CancelImageCreationResponse:
            http = factory("async") if factory is not None else None
            try:
                async with sib.AsyncImageBuilderClient(**options, http_client=http) as client:
                    return await client.cancel_image_creation(ARN)
            finally:
                if http is not None:
                    await http.aclose()

        return asyncio.run(go())
    except sib.ImageBuilderError as exc:
        return exc


def texts_of(value: object) -> list[str]:
    """Every way a result or an exception could be shown to a person."""
    texts = [repr(value), str(value)]
    if isinstance(value, BaseException):
        texts.append(json.dumps(getattr(value, "response", {}), default=str))
        texts.append("".join(traceback.format_exception(value)))
        cause = value.__cause__
        if cause is not None:
            texts += [repr(cause), str(cause)]
    return texts


def signatures(requests: Iterable[ReceivedRequest]) -> list[str]:
    return [
        (r.header("authorization") or "").rsplit("Signature=", 1)[-1]
        for r in requests
        if r.header("authorization")
    ]


def assert_no_secrets(
    *values: object,
    caplog: pytest.LogCaptureFixture | None = None,
    extra: Iterable[str] = (),
    texts: Iterable[str] = (),
) -> None:
    """No secret in any value's texts, in the captured log records, or in ``texts``."""
    everything = [t for v in values for t in texts_of(v)]
    everything += list(texts)
    if caplog is not None:
        everything += [f"{r.name} {r.getMessage()}" for r in caplog.records]
    joined = "\n".join(everything)
    for secret in (*SECRETS, *extra):
        assert secret and secret not in joined, secret


def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    """DEBUG from our logger and httpx's and httpcore's."""
    caplog.set_level(logging.DEBUG)
    for name in ("sigv4_imagebuilder", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)


#: pytest-httpx pins one httpx minor per release: none fits the lowest legs' httpx.
NEEDS_PYTEST_HTTPX = pytest.mark.skipif(
    importlib.util.find_spec("pytest_httpx") is None,
    reason="pytest-httpx is not installed (no release for this httpx)",
)
