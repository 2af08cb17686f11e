"""Shared test data and helpers."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

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
