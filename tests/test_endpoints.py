"""Endpoint rules over the static partition table."""

from __future__ import annotations

import re

import pytest

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._endpoints import Partition, partition_for, resolve_endpoint


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
