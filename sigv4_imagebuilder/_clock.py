"""The one wall clock the library reads, so tests can replace it in one place."""

from __future__ import annotations

import datetime


def utcnow() -> datetime.datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)
