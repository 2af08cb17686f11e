"""Plain-data HTTP request and response, the currency of the sans-I/O core."""

from __future__ import annotations

from collections.abc import Mapping

import attrs


@attrs.frozen(kw_only=True)
class HttpRequest:
    """An HTTP request as the core builds it; the I/O shells send it as is.

    ``headers`` is an ordered tuple of ``(name, value)`` pairs so that what is
    signed and what is sent are the same bytes in the same order.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (any case), or ``None``."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


@attrs.frozen(kw_only=True)
class HttpResponse:
    """An HTTP response read in full. Header names are lower case."""

    status_code: int
    headers: Mapping[str, str] = attrs.field(hash=False)
    body: bytes = b""
