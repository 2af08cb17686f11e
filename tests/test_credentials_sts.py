"""The STS XML reader: hostile replies are typed errors with bounded, printable text."""

from __future__ import annotations

import pytest

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._credentials._sts import MESSAGE_MAX, parse_sts_credentials
from sigv4_imagebuilder._http import HttpResponse

WHERE = "web identity: STS AssumeRoleWithWebIdentity at https://sts.example/"


def _reply(status: int, body: bytes) -> HttpResponse:
    return HttpResponse(status_code=status, headers={}, body=body)


@pytest.mark.parametrize(
    "body",
    [
        b"<?xml version='1.0' encoding='bogus-enc'?><a/>",  # LookupError in ElementTree
        b"<?xml version='1.0' encoding='utf-8'?><a>\xff</a>",
        b"<a>" * 10 + b"</b>",
        b"",
    ],
)
@pytest.mark.parametrize("status", [200, 400])
def test_a_reply_that_is_not_xml_is_a_typed_error(body: bytes, status: int) -> None:
    with pytest.raises(sib.CredentialRetrievalError, match="the reply is not XML") as info:
        parse_sts_credentials(_reply(status, body), WHERE)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_an_sts_error_message_is_bounded_and_printable() -> None:
    body = (
        # XML 1.0 refuses most control characters; bidi overrides and line
        # breaks pass, and would reach a terminal.
        b"<ErrorResponse><Error><Code>Bad\n\tCode</Code><Message>"
        + b"\xe2\x80\xae evil\r\n\t\xe2\x80\x8b"
        + b"m" * 3_000_000
        + b"</Message></Error></ErrorResponse>"
    )
    with pytest.raises(sib.CredentialRetrievalError) as info:
        parse_sts_credentials(_reply(400, body), WHERE)
    text = str(info.value)
    assert len(text) < len(WHERE) + MESSAGE_MAX + 200
    assert text.isprintable()
    assert "HTTP 400 Bad Code: evil mmm" in text and text.endswith("...")


def test_a_namespaced_error_keeps_its_code_and_message() -> None:
    body = (
        b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
        b"<Code>InvalidIdentityToken</Code><Message>Token expired\n  at 12:00</Message>"
        b"</Error></ErrorResponse>"
    )
    with pytest.raises(sib.CredentialRetrievalError) as info:
        parse_sts_credentials(_reply(400, body), WHERE)
    assert str(info.value) == f"{WHERE}: HTTP 400 InvalidIdentityToken: Token expired at 12:00"


def test_a_huge_unreadable_expiration_is_named_briefly() -> None:
    body = (
        b'<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        b"<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIA</AccessKeyId>"
        b"<SecretAccessKey>STSSECRET</SecretAccessKey><SessionToken>tok</SessionToken>"
        b"<Expiration>\xe2\x80\xaesoon" + b"9" * 1_000_000 + b"</Expiration>"
        b"</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
    )
    with pytest.raises(sib.CredentialRetrievalError, match="is not ISO 8601") as info:
        parse_sts_credentials(_reply(200, body), WHERE)
    text = str(info.value)
    assert len(text) < len(WHERE) + 200 and "\u202e" not in text and "STSSECRET" not in text
