"""Endpoint rules over the static partition table."""

from __future__ import annotations

import io
import logging
import re
import traceback
from pathlib import Path

import pytest
from conftest import ARN, PLAIN_CREDS

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._cli import main
from sigv4_imagebuilder._endpoints import (
    Partition,
    partition_for,
    resolve_endpoint,
    validate_endpoint_url,
)
from sigv4_imagebuilder.testing import LoopbackServer, ReceivedRequest, Reply


@pytest.mark.parametrize(
    ("region", "fips", "dual", "url"),
    [
        ("us-east-1", False, False, "https://imagebuilder.us-east-1.amazonaws.com"),
        ("us-east-1", True, False, "https://imagebuilder-fips.us-east-1.amazonaws.com"),
        ("us-east-1", False, True, "https://imagebuilder.us-east-1.api.aws"),
        ("us-east-1", True, True, "https://imagebuilder-fips.us-east-1.api.aws"),
        ("cn-north-1", False, False, "https://imagebuilder.cn-north-1.amazonaws.com.cn"),
        ("cn-north-1", False, True, "https://imagebuilder.cn-north-1.api.amazonwebservices.com.cn"),
        ("us-gov-west-1", False, False, "https://imagebuilder.us-gov-west-1.amazonaws.com"),
        ("us-gov-west-1", True, False, "https://imagebuilder.us-gov-west-1.amazonaws.com"),
        ("us-gov-west-1", True, True, "https://imagebuilder-fips.us-gov-west-1.api.aws"),
        ("us-iso-east-1", False, False, "https://imagebuilder.us-iso-east-1.c2s.ic.gov"),
        ("us-isob-east-1", False, False, "https://imagebuilder.us-isob-east-1.sc2s.sgov.gov"),
        ("eu-isoe-west-1", False, False, "https://imagebuilder.eu-isoe-west-1.cloud.adc-e.uk"),
        (
            "us-isof-south-1",
            True,
            False,
            "https://imagebuilder-fips.us-isof-south-1.csp.hci.ic.gov",
        ),
        ("eusc-de-east-1", False, False, "https://imagebuilder.eusc-de-east-1.amazonaws.eu"),
        ("mars-west-1", False, False, "https://imagebuilder.mars-west-1.amazonaws.com"),
    ],
)
def test_endpoint_table(region: str, fips: bool, dual: bool, url: str) -> None:
    assert resolve_endpoint(region=region, use_fips=fips, use_dualstack=dual) == url


@pytest.mark.parametrize(
    "region", ["us-east-1.evil.example", "../x", "", "us east", "-us", "a" * 64, "us_east_1"]
)
def test_region_must_be_a_dns_label(region: str) -> None:
    with pytest.raises(sib.ConfigurationError, match="Invalid region"):
        resolve_endpoint(region=region)


def test_custom_endpoint_is_used_as_given_and_excludes_fips_and_dualstack() -> None:
    assert (
        resolve_endpoint(region="us-east-1", endpoint_url="http://127.0.0.1:9/p")
        == "http://127.0.0.1:9/p"
    )
    with pytest.raises(sib.ConfigurationError, match="FIPS and custom endpoint"):
        resolve_endpoint(region="us-east-1", endpoint_url="http://x", use_fips=True)
    with pytest.raises(sib.ConfigurationError, match="dual-stack and custom endpoint"):
        resolve_endpoint(region="us-east-1", endpoint_url="http://x", use_dualstack=True)


@pytest.mark.parametrize(
    "url", ["ftp://x", "imagebuilder.amazonaws.com", "http://", "http://h:99999"]
)
def test_bad_custom_endpoints(url: str) -> None:
    with pytest.raises(sib.ConfigurationError, match="Invalid endpoint_url"):
        resolve_endpoint(region="us-east-1", endpoint_url=url)


def test_missing_region() -> None:
    with pytest.raises(sib.ConfigurationError, match="missing region"):
        resolve_endpoint(region=None)


def test_partition_without_variants() -> None:
    table = (
        Partition(
            name="p-none",
            region_regex=re.compile(r"^zz-"),
            dns_suffix="z.example",
            dual_stack_dns_suffix=None,
            supports_fips=False,
        ),
    )
    assert partition_for("zz-top-1", table).name == "p-none"
    assert (
        resolve_endpoint(region="zz-top-1", partitions=table)
        == "https://imagebuilder.zz-top-1.z.example"
    )
    with pytest.raises(sib.ConfigurationError, match="does not support FIPS"):
        resolve_endpoint(region="zz-top-1", use_fips=True, partitions=table)
    with pytest.raises(sib.ConfigurationError, match="does not support dual-stack"):
        resolve_endpoint(region="zz-top-1", use_dualstack=True, partitions=table)


USER = "USERdistinctive"
PASSWORD = "PASSWORDdistinctive9876"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"http://{USER}:{PASSWORD}@127.0.0.1:9", "user info"),
        (f"http://{USER}@127.0.0.1:9", "user info"),
        (f"http://{USER}:{PASSWORD}@127.0.0.1:9/p\n", "control characters"),
        ("http://127.0.0.1:9?x=1", "query string"),
        ("http://127.0.0.1:9/p?", "query string"),
        ("http://127.0.0.1:9#frag", "fragment"),
        ("http://127.0.0.1:9/a\nb", "control characters"),
        ("http://127.0.0.1:9/a\x00b", "control characters"),
        ("http://127.0.0.1:9/a b", "whitespace"),
        (" http://127.0.0.1:9", "whitespace"),
        ("http://127.0.0.1:9/a\x7f", "control characters"),
        ("file:///etc/passwd", "http:// or https://"),
        ("HTTP//x", "http:// or https://"),
        ("http://", "host name"),
        ("http://:80", "host name"),
        ("http://[::1", "host name"),
        ("http://ho%2fst", "host name"),
        ("http://h\\x", "host name"),
        ("http://h:abc", "port"),
        ("http://h:99999", "port"),
        ("http://h:" + "9" * 1000, "port"),
        ("http://h:0", "port"),
        ("http://h:", "port"),
        ("http://h:\u00b2", "port"),
        (b"http://h", "expected a string"),
        # Host names the socket layer's idna codec would refuse on every call.
        ("http://a..b/", "labels of 1 to 63"),
        ("http://" + "a" * 64 + ".local/", "labels of 1 to 63"),
        ("http://" + ("a" * 60 + ".") * 5 + "x", "253 at most"),
        ("http://h/" + "p" * 70_000, "longer than 2048"),
    ],
)
def test_hostile_endpoint_urls_are_refused_without_echoing_secrets(url: str, reason: str) -> None:
    with pytest.raises(sib.ConfigurationError, match=f"Invalid endpoint_url.*{reason}") as info:
        validate_endpoint_url(url)
    assert PASSWORD not in str(info.value) and USER not in str(info.value)


@pytest.mark.parametrize(
    "url", ["http://" + "a" * 63 + ".local", "http://localhost.", "https://x.y.z:443/p/"]
)
def test_host_names_at_the_limits_are_kept(url: str) -> None:
    assert validate_endpoint_url(url) == url


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "https://[::1]:443/prefix", "https://host-1.example_x.com/p@q/"],
)
def test_plain_endpoint_urls_are_accepted(url: str) -> None:
    assert validate_endpoint_url(url) == url


def test_the_validator_names_the_setting_it_checks() -> None:
    with pytest.raises(sib.ConfigurationError, match="Invalid AWS_ENDPOINT_URL_STS 'ftp://x'"):
        validate_endpoint_url("ftp://x", name="AWS_ENDPOINT_URL_STS")


def _every_path_to_an_endpoint(url: str, tmp_path: Path) -> list[dict[str, object]]:
    """Constructor arguments that each reach the endpoint through one path."""
    base = {"HOME": str(tmp_path), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    profile = tmp_path / "profile"
    profile.write_text(f"[default]\nendpoint_url = {url}\n")
    services = tmp_path / "services"
    services.write_text(
        f"[default]\nservices = mine\n[services mine]\nimagebuilder =\n  endpoint_url = {url}\n"
    )
    return [
        {"endpoint_url": url, "env": base},
        {"env": {**base, "AWS_ENDPOINT_URL": url}},
        {"env": {**base, "AWS_ENDPOINT_URL_IMAGEBUILDER": url}},
        {"env": {**base, "AWS_CONFIG_FILE": str(profile)}},
        {"env": {**base, "AWS_CONFIG_FILE": str(services)}},
    ]


@pytest.mark.parametrize("client_class", [sib.ImageBuilderClient, sib.AsyncImageBuilderClient])
def test_every_path_to_the_endpoint_is_validated_at_construction(
    client_class: type[sib.ImageBuilderClient], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    received: list[ReceivedRequest] = []
    with LoopbackServer(lambda r: received.append(r) or Reply()) as server:
        url = server.endpoint_url.replace("://", f"://{USER}:{PASSWORD}@")
        for kwargs in _every_path_to_an_endpoint(url, tmp_path):
            with pytest.raises(sib.ConfigurationError, match="user info") as info:
                client_class(region="us-east-1", credentials=PLAIN_CREDS, **kwargs)  # type: ignore[arg-type]
            texts = f"{info.value!s} {info.value!r}" + "".join(
                traceback.format_exception(info.value)
            )
            assert PASSWORD not in texts and USER not in texts
    assert received == []
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


def test_cli_refuses_an_endpoint_with_user_info(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "cancel-image-creation",
            "--image-build-version-arn",
            ARN,
            "--region",
            "us-east-1",
            "--endpoint-url",
            f"http://{USER}:{PASSWORD}@127.0.0.1:9",
            "--debug",
        ],
        stdout=out,
        stderr=err,
    )
    assert code == 253 and "user info" in err.getvalue()
    assert PASSWORD not in out.getvalue() + err.getvalue()
    assert USER not in out.getvalue() + err.getvalue()
