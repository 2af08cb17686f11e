"""``Credentials``: positional token, header-safe values, expiration checked when made."""

from __future__ import annotations

import datetime

import pytest

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._credentials._model import header_problem

UTC = datetime.timezone.utc


def test_session_token_is_the_third_positional_argument_as_in_botocore() -> None:
    creds = sib.Credentials("AKID", "secret", "token")
    assert creds.session_token == "token"
    assert creds == sib.Credentials("AKID", "secret", session_token="token")
    with pytest.raises(TypeError):
        sib.Credentials("AKID", "secret", "token", datetime.datetime(2030, 1, 1, tzinfo=UTC))  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("session_token", "FwoGZXIvYXdzSECRETTOKEN\r", "carriage return"),
        ("session_token", "FwoGZXIvYXdz\nSECRETTOKEN", "line feed"),
        ("session_token", "SECRETTOKENtök", "not ASCII"),
        ("session_token", "SECRETTOKEN\x00", "control character"),
        ("session_token", "SECRETTOKEN\x7f", "control character"),
        ("session_token", " SECRETTOKEN", "starts or ends with a space"),
        ("access_key_id", "AKIDSECRETTOKEN\r\n", "carriage return"),
        ("access_key_id", "AKIDSECRETTOKEN\u00e9", "not ASCII"),
    ],
)
def test_values_that_are_not_header_values_are_refused_without_echo(
    field: str, value: str, reason: str
) -> None:
    kwargs = {"access_key_id": "AKID", "secret_access_key": "s", "session_token": None}
    kwargs[field] = value
    with pytest.raises(ValueError, match=f"{field} is not a valid HTTP header value") as info:
        sib.Credentials(**kwargs)  # type: ignore[arg-type]
    assert reason in str(info.value)
    assert "SECRETTOKEN" not in str(info.value) and "SECRETTOKEN" not in repr(info.value)
    assert not isinstance(info.value, sib.ImageBuilderError)  # attrs-style, as for bad input


def test_secret_with_a_line_break_is_refused_and_other_secrets_are_not() -> None:
    with pytest.raises(ValueError, match="secret_access_key contains a control character") as info:
        sib.Credentials("AKID", "wJalrSECRET\r")
    assert "wJalrSECRET" not in str(info.value)
    # Signing encodes the secret as UTF-8: any printable text is a usable secret.
    assert sib.Credentials("AKID", "sécret with spaces").secret_access_key == "sécret with spaces"


@pytest.mark.parametrize("field", ["access_key_id", "secret_access_key", "session_token"])
def test_a_lone_surrogate_is_refused_naming_only_the_field(field: str) -> None:
    # os.environ's surrogateescape for bytes that are not UTF-8: signing would
    # raise UnicodeEncodeError mid-call.
    kwargs = {"access_key_id": "AKID", "secret_access_key": "s", "session_token": None}
    kwargs[field] = "SECRETTOKEN\udcff"
    with pytest.raises(ValueError, match=field) as info:
        sib.Credentials(**kwargs)  # type: ignore[arg-type]
    text = str(info.value) + repr(info.value)
    assert "SECRETTOKEN" not in text and "udcff" not in text
    assert not isinstance(info.value, UnicodeError)
    if field == "secret_access_key":
        assert "cannot be encoded as UTF-8" in text


def test_header_problem_accepts_what_aws_issues() -> None:
    assert header_problem("ASIAEXAMPLE") is None
    assert header_problem("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH+/=") is None
    assert header_problem("inner space") is None


def test_naive_expiration_is_taken_as_utc() -> None:
    naive = datetime.datetime(2030, 1, 1, 12, 0)
    creds = sib.Credentials("AKID", "s", expiration=naive)
    assert creds.expiration == datetime.datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert creds.expiration is not None and creds.expiration.tzinfo is not None
    aware = datetime.datetime(
        2030, 1, 1, 13, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
    )
    assert sib.Credentials("AKID", "s", expiration=aware).expiration == creds.expiration


@pytest.mark.parametrize("value", ["2030-01-01T00:00:00Z", 1893456000, datetime.date(2030, 1, 1)])
def test_expiration_that_is_not_a_datetime_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="expiration must be a datetime or None"):
        sib.Credentials("AKID", "s", expiration=value)  # type: ignore[arg-type]


def test_extreme_expirations_are_accepted_and_compare_without_overflow() -> None:
    minus_one = datetime.timezone(datetime.timedelta(hours=-1))
    plus_one = datetime.timezone(datetime.timedelta(hours=1))
    now = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    for when in (
        datetime.datetime(1, 1, 1, tzinfo=plus_one),
        datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=minus_one),
        datetime.datetime.min,
        datetime.datetime.max,
    ):
        creds = sib.Credentials("AKID", "s", expiration=when)
        assert creds.expiration is not None
        assert isinstance(creds.expiration - now, datetime.timedelta)
        assert "expiration=" in repr(creds)


def test_credentials_round_trip_through_pickle() -> None:
    import pickle

    creds = sib.Credentials(
        "AKID", "SECRETkey", "SECRETtoken", expiration=datetime.datetime(2030, 1, 1)
    )
    back = pickle.loads(pickle.dumps(creds))
    assert back == creds and repr(back) == repr(creds)
    assert "SECRET" not in repr(back)
