"""SigV4 through botocore with the clock passed in."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from conftest import ARN, TOKEN

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._http import HttpRequest
from sigv4_imagebuilder._operations import CANCEL_IMAGE_CREATION
from sigv4_imagebuilder._protocol import serialize_request
from sigv4_imagebuilder._signing import sign, signing_key


def build_request(endpoint_url: str, body: bytes) -> HttpRequest:
    """CancelImageCreation's unsigned request for ``endpoint_url``, around ``body``."""
    request = serialize_request(CANCEL_IMAGE_CREATION, endpoint_url, {})
    return HttpRequest(method=request.method, url=request.url, headers=request.headers, body=body)


def serialize_body(arn: str, token: str) -> bytes:
    values = {"image_build_version_arn": arn, "client_token": token}
    return serialize_request(CANCEL_IMAGE_CREATION, "http://unused", values).body


WHEN = datetime.datetime(2015, 8, 30, 12, 36, 0, tzinfo=datetime.timezone.utc)
AWS_EXAMPLE = sib.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def test_aws_sigv4_test_suite_get_vanilla() -> None:
    # The "get-vanilla" case of AWS's published SigV4 test suite.
    request = HttpRequest(
        method="GET",
        url="https://example.amazonaws.com/",
        headers=(("Host", "example.amazonaws.com"),),
        body=b"",
    )
    signed = sign(request, AWS_EXAMPLE, region="us-east-1", service="service", now=WHEN)
    assert signed.header("Authorization") == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )
    assert signed.header("X-Amz-Date") == "20150830T123600Z"


def test_same_signature_as_botocores_own_add_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    creds = sib.Credentials("AKIDEXAMPLE", "secret/key", session_token="tok")
    unsigned = build_request(
        "https://imagebuilder.us-west-2.amazonaws.com", serialize_body(ARN, TOKEN)
    )
    ours = sign(unsigned, creds, region="us-west-2", now=WHEN)

    naive = WHEN.replace(tzinfo=None)
    if hasattr(botocore.auth, "get_current_datetime"):
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: naive)
    else:  # botocore before 1.32 calls datetime.datetime.utcnow() itself

        class Frozen(datetime.datetime):
            @classmethod
            def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
                return naive

        monkeypatch.setattr(botocore.auth.datetime, "datetime", Frozen)
    reference = AWSRequest(
        method="PUT",
        url=unsigned.url,
        data=unsigned.body,
        headers={"Content-Type": "application/json"},
    )
    botocore.auth.SigV4Auth(
        BotoCredentials("AKIDEXAMPLE", "secret/key", "tok"), "imagebuilder", "us-west-2"
    ).add_auth(reference)
    assert ours.header("Authorization") == reference.headers["Authorization"]
    assert ours.header("X-Amz-Security-Token") == "tok"
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in ours.header(
        "Authorization"
    )


def test_naive_and_aware_times_sign_alike_and_the_key_is_cached() -> None:
    unsigned = build_request("https://imagebuilder.us-east-1.amazonaws.com", b"{}")
    a = sign(unsigned, AWS_EXAMPLE, region="us-east-1", now=WHEN)
    b = sign(unsigned, AWS_EXAMPLE, region="us-east-1", now=WHEN.replace(tzinfo=None))
    assert a == b
    key = signing_key(AWS_EXAMPLE.secret_access_key, "20150830", "us-east-1", "imagebuilder")
    assert (
        signing_key(AWS_EXAMPLE.secret_access_key, "20150830", "us-east-1", "imagebuilder") is key
    )


def test_signing_key_cache_holds_no_plaintext_secret() -> None:
    from sigv4_imagebuilder import _signing

    secret = "plaintext-SECRET-distinctive"
    signing_key(secret, "20150830", "us-east-1", "imagebuilder")
    assert secret not in repr(_signing._key_cache)
    assert all(secret not in repr(key) for key in _signing._key_cache)
    # Another secret never shares a key, whatever its length.
    other = signing_key(secret + "x", "20150830", "us-east-1", "imagebuilder")
    assert other != signing_key(secret, "20150830", "us-east-1", "imagebuilder")


def test_signing_key_cache_is_bounded() -> None:
    from sigv4_imagebuilder import _signing

    for day in range(1, 40):
        signing_key("s", f"201501{day:02d}", "r", "svc")
    assert len(_signing._key_cache) <= _signing._KEY_CACHE_SIZE


def test_reprs_of_signed_requests_hide_the_signature_and_token() -> None:
    from sigv4_imagebuilder._actions import Send
    from sigv4_imagebuilder._signing import _BotocoreCredentials
    from sigv4_imagebuilder.testing import ReceivedRequest

    creds = sib.Credentials("AKIDEXAMPLE", "the-secret", session_token="the-token")
    signed = sign(
        build_request("https://imagebuilder.us-east-1.amazonaws.com", b"{}"),
        creds,
        region="us-east-1",
        now=WHEN,
    )
    signature = signed.header("Authorization").rsplit("=", 1)[-1]  # type: ignore[union-attr]
    received = ReceivedRequest(method="PUT", path="/", query="", headers=signed.headers, body=b"{}")
    text = (
        repr(signed)
        + repr(Send(signed))
        + repr(received)
        + repr(_BotocoreCredentials("A", "the-secret", "the-token"))
    )
    for secret in (signature, "the-token", "the-secret"):
        assert secret not in text
    assert "'***'" in repr(signed) and "X-Amz-Date" in repr(signed)


def _botocore_reference(
    monkeypatch: pytest.MonkeyPatch,
    unsigned: HttpRequest,
    creds: sib.Credentials,
    region: str,
    when: datetime.datetime,
) -> str:
    """botocore's own add_auth on the same request at ``when``: the Authorization value."""
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    naive = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: naive)
    reference = AWSRequest(
        method=unsigned.method,
        url=unsigned.url,
        data=unsigned.body,
        headers={"Content-Type": "application/json"},
    )
    botocore.auth.SigV4Auth(
        BotoCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
        "imagebuilder",
        region,
    ).add_auth(reference)
    return str(reference.headers["Authorization"])


def test_a_reused_signer_matches_botocore_across_days_regions_and_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import botocore.auth

    if not hasattr(botocore.auth, "get_current_datetime"):
        pytest.skip("botocore before 1.32 reads utcnow itself")
    unsigned = build_request(
        "https://imagebuilder.us-west-2.amazonaws.com", serialize_body(ARN, TOKEN)
    )
    first = sib.Credentials("AKIDONE", "secret/one", session_token="tok")
    second = sib.Credentials("AKIDTWO", "secret/two")
    # The same credentials object again and again (the signer and its key are
    # reused), across midnight (a new key), then another region, then other
    # credentials, then the first ones again.
    steps = [
        (first, "us-west-2", WHEN),
        (first, "us-west-2", WHEN + datetime.timedelta(seconds=1)),
        (first, "us-west-2", WHEN + datetime.timedelta(days=1)),
        (first, "eu-west-1", WHEN + datetime.timedelta(days=1)),
        (second, "us-west-2", WHEN),
        (first, "us-west-2", WHEN),
    ]
    for creds, region, when in steps:
        ours = sign(unsigned, creds, region=region, now=when)
        expected = _botocore_reference(monkeypatch, unsigned, creds, region, when)
        assert ours.header("Authorization") == expected, (creds.access_key_id, region, when)


def test_reused_signers_go_with_their_credentials() -> None:
    import gc

    from sigv4_imagebuilder import _signing

    unsigned = build_request("https://imagebuilder.us-east-1.amazonaws.com", b"{}")
    creds = sib.Credentials("AKIDGONE", "secret-that-must-not-linger")
    sign(unsigned, creds, region="us-east-1", now=WHEN)
    assert creds in _signing._signers
    del creds
    gc.collect()
    assert all(c.access_key_id != "AKIDGONE" for c in list(_signing._signers.keys()))
    held = [s.credentials.secret_key for by in _signing._signers.values() for s in by.values()]
    assert "secret-that-must-not-linger" not in held


def test_credentials_that_cannot_be_cached_still_sign_alike() -> None:
    class Unhashable(sib.Credentials):
        __hash__ = None  # type: ignore[assignment]

    unsigned = build_request("https://imagebuilder.us-east-1.amazonaws.com", b"{}")
    plain = sign(unsigned, AWS_EXAMPLE, region="us-east-1", now=WHEN)
    odd = Unhashable(AWS_EXAMPLE.access_key_id, AWS_EXAMPLE.secret_access_key)
    assert sign(unsigned, odd, region="us-east-1", now=WHEN) == plain


def test_botocore_builds_the_canonical_request_and_the_string_to_sign(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SigV4's canonical request and string to sign are botocore's public
    # SigV4Auth methods, once per request; only the signing key is cached.
    from botocore.auth import SigV4Auth

    seen: list[str] = []
    for name in ("canonical_request", "string_to_sign", "scope"):
        original = getattr(SigV4Auth, name)

        def spy(self: Any, *args: Any, _name: str = name, _original: Any = original) -> Any:
            seen.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(SigV4Auth, name, spy)
    credentials = sib.Credentials("AKIDFRESH", "a-secret-never-used-before")
    unsigned = build_request("https://imagebuilder.us-east-1.amazonaws.com", b"{}")
    signed = sign(unsigned, credentials, region="us-east-1", now=WHEN)
    assert seen.count("canonical_request") == 1 and seen.count("string_to_sign") == 1
    assert "scope" in seen
    assert dict(signed.headers)["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDFRESH/20150830/us-east-1/imagebuilder/aws4_request, "
    )
