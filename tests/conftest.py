"""Shared test data and helpers, and the network guard (tests/network_guard.py) for every test."""

from __future__ import annotations

import datetime
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from network_guard import NetworkGuard, NetworkGuardError

import sigv4_imagebuilder as sib

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.0.0/3"
TOKEN = "7f0c1a52-3c5e-4a8e-9d6b-2f1e8c4d9a10"
# Distinctive values that the redaction tests search for everywhere.
SECRET = "SECRETKEYdistinctive/abc+123xyzSECRET"
SESSION_TOKEN = "SESSIONTOKENdistinctive//FwoGZXIvYXdzEJr+tokenTOKEN"
CREDS = sib.Credentials("AKIDEXAMPLE", SECRET, session_token=SESSION_TOKEN)
PLAIN_CREDS = sib.Credentials("AKIDPLAIN", "plain-secret")
NO_SLEEP = sib.RetryPolicy(
    base_delay=0.0, throttling_base_delay=0.0, max_retry_after_extra=0.0, random=lambda: 0.0
)


GUARD = NetworkGuard()


def pytest_configure(config: pytest.Config) -> None:
    GUARD.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    GUARD.uninstall()


def _fail_on_refusals(when: str) -> None:
    refused = GUARD.take_refused()
    if refused:
        # Raised even if the code under test caught the guard's own error.
        raise NetworkGuardError(f"{len(refused)} attempt(s) during {when}, first", refused[0].host)


def _checked(when: str) -> Generator[None, None, None]:
    """Run one phase of a test (the hook's ``yield``), then fail it for any refusal."""
    try:
        result = yield
    except BaseException:
        GUARD.take_refused()  # the phase failed already: report that, once
        raise
    _fail_on_refusals(when)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    GUARD.take_refused()
    return (yield from _checked("setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _checked("the test"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _checked("teardown"))


@pytest.fixture
def network_guard() -> NetworkGuard:
    """The session's network guard, for the tests that prove it."""
    return GUARD


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@pytest.fixture
def empty_env(tmp_path: Path) -> dict[str, str]:
    """An environment with no AWS settings and no shared files."""
    return {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the real ~/.aws, the real AWS_* variables, or 169.254.169.254."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def _leaks_collected_where_they_are_allowed(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that allows a ResourceWarning collects its own garbage before it ends.

    Those tests stand for a dependency's known leak (Python 3.10's http.client and the
    lowest declared urllib3 and aiohttp leave a refused proxy tunnel's socket to the
    garbage collector). Collected here, under the test's own filters, the warning cannot
    land in whichever test the collector happens to run next, where every warning is an
    error.
    """
    yield
    marks = request.node.iter_markers("filterwarnings")
    if any("ResourceWarning" in str(mark.args[0]) for mark in marks if mark.args):
        import gc

        gc.collect()
