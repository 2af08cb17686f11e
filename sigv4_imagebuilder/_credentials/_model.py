"""``Credentials``: the keys every request is signed with, checked when made.

The access key id and the session token travel in HTTP headers, so a value
that is not a valid header value (a carriage return from a CRLF file, a
non-ASCII character) is refused here, before anything is signed or sent.
Errors name the field and the kind of character, never the value.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import attrs

from .._text import encodes_as_utf8


def header_problem(value: str) -> str | None:
    """Return why ``value`` is not a valid HTTP header value, or ``None``.

    Only visible ASCII and inner spaces are allowed: httpx refuses non-ASCII
    and h11 refuses control characters and surrounding whitespace.

    Example:
        >>> header_problem("FwoGZXIvYXdz\\r")
        'it contains a carriage return'
    """
    for char in value:
        code = ord(char)
        if char == "\r":
            return "it contains a carriage return"
        if char == "\n":
            return "it contains a line feed"
        if code > 0x7F:
            return "it contains a character that is not ASCII"
        if code < 0x20 or code == 0x7F:
            return "it contains a control character"
    if value != value.strip(" "):
        return "it starts or ends with a space"
    return None


def _str_field(
    *, header: bool, optional: bool = False
) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        # ValueError/TypeError as attrs raises them, never echoing the value:
        # it may be a secret.
        if value is None and optional:
            return
        if not isinstance(value, str):
            raise TypeError(f"{attribute.name} must be a str, got {type(value).__name__}")
        if not value:
            raise ValueError(f"{attribute.name} must not be empty")
        if not encodes_as_utf8(value):
            raise ValueError(
                f"{attribute.name} cannot be encoded as UTF-8 (it contains a lone surrogate)"
            )
        if header:
            problem = header_problem(value)
            if problem is not None:
                raise ValueError(f"{attribute.name} is not a valid HTTP header value ({problem})")
        elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError(f"{attribute.name} contains a control character")

    return check


def _expiration(value: object) -> datetime.datetime | None:
    # A naive datetime (datetime.utcnow() + ..., a common idiom) is taken as
    # UTC, so later comparisons with aware times cannot raise TypeError.
    if value is None:
        return None
    if not isinstance(value, datetime.datetime):
        raise TypeError(f"expiration must be a datetime or None, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value


@attrs.frozen(repr=False)
class Credentials:
    """AWS credentials used to sign requests.

    The repr shows the access key id (it is not secret: it travels in every
    signed request) and never the secret key or the session token. As in
    botocore, the session token may be given as the third positional argument.

    Args:
        access_key_id: the access key id, such as ``AKIA...`` or ``ASIA...``.
        secret_access_key: the secret access key.
        session_token: the session token of temporary credentials.
        expiration: when temporary credentials expire, keyword only; a naive
            datetime is taken as UTC. ``None`` for credentials that do not expire.

    Raises:
        ValueError: an empty value, a control character, a value UTF-8 cannot
            encode (a lone surrogate), or an access key id or
            session token that is not a valid HTTP header value (only visible
            ASCII and inner spaces); the message names the field, not the value.
        TypeError: a value of the wrong type.

    Example:
        >>> Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", "tok")
        Credentials(access_key_id='AKIDEXAMPLE', secret_access_key='***', session_token='***')
    """

    access_key_id: str = attrs.field(validator=_str_field(header=True))
    secret_access_key: str = attrs.field(validator=_str_field(header=False))
    session_token: str | None = attrs.field(
        default=None,
        validator=_str_field(header=True, optional=True),
    )
    expiration: datetime.datetime | None = attrs.field(
        default=None, kw_only=True, converter=_expiration
    )

    def __repr__(self) -> str:
        token = "None" if self.session_token is None else "'***'"
        parts = [
            f"access_key_id={self.access_key_id!r}",
            "secret_access_key='***'",
            f"session_token={token}",
        ]
        if self.expiration is not None:
            parts.append(f"expiration={self.expiration.isoformat()!r}")
        return f"Credentials({', '.join(parts)})"
