"""A reply body read within a bound: at most ``MAX_RESPONSE_BYTES`` kept, after decoding."""

from __future__ import annotations

import zlib
from typing import Any

#: The most bytes kept from any reply, after decoding. Image Builder's
#: replies are a few hundred bytes; credential sources' a few kilobytes.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024

_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BoundedBody:
    """A reply body fed raw bytes, decoded and kept up to ``limit`` bytes.

    Decodes ``gzip`` and ``deflate`` itself, with zlib's ``max_length``, so
    that no single chunk can inflate past the bound.

    Example:
        >>> body = BoundedBody("", limit=4)
        >>> body.feed(b"abc"); body.feed(b"de")
        >>> body.problem
        'the reply body is larger than 4 bytes'
    """

    def __init__(self, content_encoding: str, *, limit: int = MAX_RESPONSE_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self.problem: str | None = None
        #: The compressed stream did not decode: a transport failure, as httpx's
        #: DecodingError is, rather than a reply we read and did not understand.
        self.corrupt = False
        # One growing buffer, not a list of the pieces: a server sending its
        # body one byte per chunk would make a list cost ~40 bytes per byte.
        self._data = bytearray()
        encoding = content_encoding.strip().lower()
        self._decoder: Any = None
        self._deflate_guess = encoding == "deflate"
        if encoding in _DECODERS:
            self._decoder = zlib.decompressobj(_DECODERS[encoding])
        elif encoding not in ("", "identity"):
            # We asked for identity; anything else is a server's own idea.
            self.problem = f"the reply uses an unsupported Content-Encoding {encoding[:40]!r}"

    @property
    def done(self) -> bool:
        """True once nothing more should be read."""
        return self.problem is not None

    def feed(self, raw: bytes) -> None:
        """Add raw bytes from the wire."""
        if self.problem is not None or not raw:
            return
        if self._decoder is None:
            self._keep(raw)
            return
        try:
            data = self._decoder.decompress(raw, self.limit - self.size + 1)
        except zlib.error:
            if self._deflate_guess and self.size == 0:
                # "deflate" is often sent raw, without the zlib header (as httpx copes).
                self._deflate_guess = False
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                self.feed(raw)
                return
            self.problem = "the reply's compressed body is corrupt"
            self.corrupt = True
            return
        self._deflate_guess = False
        self._keep(data)
        if self._decoder.unconsumed_tail and self.problem is None:
            self.problem = f"the reply body is larger than {self.limit} bytes"

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self.problem = f"the reply body is larger than {self.limit} bytes"
            self._data = bytearray()
            return
        self._data += data

    def body(self) -> bytes:
        """The decoded body, or ``b""`` when there is a problem."""
        return b"" if self.problem is not None else bytes(self._data)
