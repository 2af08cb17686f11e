"""Text helpers shared by the protocol and the credential sources."""

from __future__ import annotations

import pytest

from sigv4_imagebuilder import _text
from sigv4_imagebuilder._text import encodes_as_utf8, printable


def test_printable_drops_controls_collapses_space_and_bounds() -> None:
    assert printable("bad\x1b[31m news\u202e\n\t here", 100) == "bad[31m news here"
    assert printable("x" * 5000, 10) == "x" * 10 + "..."
    assert printable("", 5) == ""


@pytest.mark.parametrize(
    ("value", "ok"),
    [("ascii", True), ("sécret ünïcode 秘密", True), ("abc\udcff", False), ("\ud800", False)],
)
def test_encodes_as_utf8(value: str, ok: bool) -> None:
    assert encodes_as_utf8(value) is ok


def test_the_credentials_room_and_the_protocol_share_it_without_importing_each_other() -> None:
    from sigv4_imagebuilder import _protocol
    from sigv4_imagebuilder._credentials import _model

    assert _protocol.printable is _text.printable
    assert _model.encodes_as_utf8 is _text.encodes_as_utf8
