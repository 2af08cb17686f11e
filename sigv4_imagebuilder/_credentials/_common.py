"""What the credential sources share: skipping, reading replies, checking values.

Nothing here leaks a secret: errors name the source and the field, never the
value, and URLs from the environment are checked before they are used or shown.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._actions import Flow, Outcome, RunBlocking
from .._errors import CredentialRetrievalError
from .._http import HttpRequest, HttpResponse, host_header
from .._text import printable
from ._model import Credentials

_FIELDS = ("access_key_id", "secret_access_key", "session_token")


class Skip(Exception):
    """A source that does not apply here; the reason goes into NoCredentialsError."""


def new_credentials(
    where: str,
    names: tuple[str, str, str],
    key: object,
    secret: object,
    token: object = None,
    expiration: datetime.datetime | None = None,
) -> Credentials:
    """``Credentials`` from a source's values; a bad value names the source's field.

    ``names`` are the source's own names for the key id, the secret and the
    token (``AWS_SESSION_TOKEN``, ``SessionToken``...).

    Raises:
        CredentialRetrievalError: a value ``Credentials`` refuses (never echoed).
    """
    try:
        return Credentials(key, secret, token, expiration=expiration)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        message = str(exc)  # names the field, never the value
        for field, name in zip(_FIELDS, names, strict=True):
            if message.startswith(field):
                message = name + message[len(field) :]
        raise CredentialRetrievalError(f"{where}: {message}") from None


def parse_time(value: object, where: str) -> datetime.datetime:
    """An ISO 8601 ``Expiration`` as an aware UTC datetime.

    Raises:
        CredentialRetrievalError: not a string, not ISO 8601, or out of range in UTC.
    """
    if not isinstance(value, str):
        raise CredentialRetrievalError(f"{where}: Expiration is missing or not a string")
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CredentialRetrievalError(
            f"{where}: Expiration {printable(value, 64)!r} is not ISO 8601"
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=datetime.timezone.utc)
    try:
        return parsed.astimezone(datetime.timezone.utc)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is in year 10000 in UTC
        raise CredentialRetrievalError(
            f"{where}: Expiration {value!r} is out of range in UTC"
        ) from None


def credentials_from_json(data: object, where: str, *, token_key: str = "Token") -> Credentials:
    """Credentials from the JSON shape of the container, IMDS, process and STS replies."""
    if not isinstance(data, dict):
        raise CredentialRetrievalError(f"{where}: expected a JSON object")
    key, secret = data.get("AccessKeyId"), data.get("SecretAccessKey")
    if not isinstance(key, str) or not key or not isinstance(secret, str) or not secret:
        raise CredentialRetrievalError(f"{where}: AccessKeyId or SecretAccessKey is missing")
    token = data.get(token_key)
    expiration = data.get("Expiration")
    return new_credentials(
        where,
        ("AccessKeyId", "SecretAccessKey", token_key),
        key,
        secret,
        token if isinstance(token, str) and token else None,
        parse_time(expiration, where) if expiration is not None else None,
    )


def checked_url(url: str, name: str) -> str:
    """``url`` (from setting ``name``) if it is a plain http(s) URL, else raise.

    Refused, as for the client's own endpoint: userinfo (which would replace
    our signature with Basic auth and leak the password), a query, a fragment,
    whitespace or control characters, and a port that is not a number up to
    65535. The message names the setting, never the URL (it may hold a password).

    Raises:
        CredentialRetrievalError: the URL is unusable; the message says why.
    """

    def refuse(why: str) -> CredentialRetrievalError:
        return CredentialRetrievalError(f"{name} is not a usable URL: {why}")

    if any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in url):
        raise refuse("it contains whitespace, a control character or a non-ASCII character")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse("it must be http:// or https:// followed by a host")
    if "@" in parts.netloc:
        raise refuse("it must not contain a user name or password")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise refuse("it must not contain a query string or fragment")
    try:
        parts.port  # noqa: B018 - urllib checks the port only when asked
    except ValueError:
        raise refuse("the port is not a number from 0 to 65535") from None
    return url


def get_request(
    url: str, headers: tuple[tuple[str, str], ...] = (), method: str = "GET"
) -> HttpRequest:
    """An unsigned request with no body, carrying ``Host`` as every request we send does."""
    return HttpRequest(
        method=method, url=url, headers=(("Host", host_header(url)), *headers), body=b""
    )


def checked_response(outcome: Outcome, where: str) -> HttpResponse:
    """The 2xx response of ``outcome``, else CredentialRetrievalError."""
    if outcome.error is not None:
        raise CredentialRetrievalError(f"{where}: {outcome.error}") from outcome.error
    assert outcome.response is not None
    if not 200 <= outcome.response.status_code < 300:
        raise CredentialRetrievalError(f"{where}: HTTP {outcome.response.status_code}")
    return outcome.response


def read_json(response: HttpResponse, where: str) -> Any:
    """The JSON body of ``response``, else CredentialRetrievalError."""
    try:
        return json.loads(response.body)
    except (ValueError, RecursionError):
        raise CredentialRetrievalError(f"{where}: the reply is not JSON") from None


def _read_file(path: str) -> str:
    return Path(path).expanduser().read_text(encoding="utf-8").strip()


def read_token_file(path: str, where: str, setting: str = "the token file path") -> Flow[str]:
    """Read a token file in a worker thread (async); a failure names the file only.

    Args:
        path: the file.
        where: the source, for error messages.
        setting: the variable or profile key the path came from, for a path
            that cannot name a file at all.

    Raises:
        CredentialRetrievalError: the file cannot be read or is not UTF-8, or
            the path holds a NUL character.
    """
    # open() raises ValueError for a NUL; the path is not echoed (not a path).
    if "\x00" in path:
        raise CredentialRetrievalError(f"{where}: {setting} contains a NUL character")
    try:
        token = yield RunBlocking(lambda: _read_file(path))
    except OSError as exc:
        raise CredentialRetrievalError(f"{where} {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CredentialRetrievalError(f"{where} {path}: the file is not UTF-8 text") from None
    assert isinstance(token, str)
    return token
