"""Text helpers shared by rooms that must not import each other.

The credential sources and the protocol both bound what a hostile server
writes into an exception, and both refuse strings UTF-8 cannot encode; the
helpers live here so that neither room imports the other.
"""

from __future__ import annotations


def printable(text: str, limit: int) -> str:
    r"""``text`` safe to print on a terminal: control and format characters
    (escape sequences, bidi overrides) dropped, whitespace collapsed, cut at
    ``limit`` characters plus ``"..."``.

    Example:
        >>> printable("bad\x1b news\u202e\n  here", 8)
        'bad news...'
    """
    text = "".join(ch for ch in text if ch.isprintable() or ch.isspace())
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit].rstrip() + "..."
    return text


def encodes_as_utf8(value: str) -> bool:
    r"""True unless ``value`` holds a lone surrogate, which UTF-8 cannot encode.

    ``os.environ`` and ``os.fsdecode`` turn bytes that are not UTF-8 into lone
    surrogates (``surrogateescape``); signing or quoting such a value would
    raise ``UnicodeEncodeError`` mid-call.

    Example:
        >>> encodes_as_utf8("abc\udcff")
        False
    """
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
