"""Endpoint resolution: the Image Builder endpoint rule set over a static partition table.

The table is copied from botocore's ``data/partitions.json``; nothing is read at
run time.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import attrs

from ._errors import ConfigurationError

SERVICE = "imagebuilder"


@attrs.frozen(kw_only=True)
class Partition:
    """One AWS partition: which regions it holds and how its hosts are named."""

    name: str
    region_regex: re.Pattern[str]
    dns_suffix: str
    dual_stack_dns_suffix: str | None
    supports_fips: bool = True


# Order matters only for the default: a region no regex claims is in "aws",
# as the rules engine's aws.partition function decides.
PARTITIONS: tuple[Partition, ...] = (
    Partition(
        name="aws",
        region_regex=re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$"),
        dns_suffix="amazonaws.com",
        dual_stack_dns_suffix="api.aws",
    ),
    Partition(
        name="aws-cn",
        region_regex=re.compile(r"^cn\-\w+\-\d+$"),
        dns_suffix="amazonaws.com.cn",
        dual_stack_dns_suffix="api.amazonwebservices.com.cn",
    ),
    Partition(
        name="aws-us-gov",
        region_regex=re.compile(r"^us\-gov\-\w+\-\d+$"),
        dns_suffix="amazonaws.com",
        dual_stack_dns_suffix="api.aws",
    ),
    Partition(
        name="aws-iso",
        region_regex=re.compile(r"^us\-iso\-\w+\-\d+$"),
        dns_suffix="c2s.ic.gov",
        dual_stack_dns_suffix="api.aws.ic.gov",
    ),
    Partition(
        name="aws-iso-b",
        region_regex=re.compile(r"^us\-isob\-\w+\-\d+$"),
        dns_suffix="sc2s.sgov.gov",
        dual_stack_dns_suffix="api.aws.scloud",
    ),
    Partition(
        name="aws-iso-e",
        region_regex=re.compile(r"^eu\-isoe\-\w+\-\d+$"),
        dns_suffix="cloud.adc-e.uk",
        dual_stack_dns_suffix="api.cloud-aws.adc-e.uk",
    ),
    Partition(
        name="aws-iso-f",
        region_regex=re.compile(r"^us\-isof\-\w+\-\d+$"),
        dns_suffix="csp.hci.ic.gov",
        dual_stack_dns_suffix="api.aws.hci.ic.gov",
    ),
    Partition(
        name="aws-eusc",
        region_regex=re.compile(r"^eusc\-(de)\-\w+\-\d+$"),
        dns_suffix="amazonaws.eu",
        dual_stack_dns_suffix="api.amazonwebservices.eu",
    ),
)

# A DNS label, as botocore's validate_region_name checks it.
_REGION_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?$")


def validate_region(region: object) -> str:
    """Return ``region`` if it is a valid DNS label, else raise ConfigurationError.

    A region shapes the endpoint's host name, so ``us-east-1.evil.example`` or
    ``../x`` must never get through.
    """
    if not isinstance(region, str) or _REGION_RE.fullmatch(region) is None:
        raise ConfigurationError(
            f"Invalid region {region!r}: a region is a DNS label "
            "(letters, digits and inner hyphens), such as 'us-east-1'"
        )
    return region


def partition_for(region: str, partitions: tuple[Partition, ...] = PARTITIONS) -> Partition:
    """Return the partition that holds ``region`` (``aws`` when none claims it)."""
    for partition in partitions:
        if partition.region_regex.match(region):
            return partition
    return partitions[0]


def validate_endpoint_url(endpoint_url: str) -> str:
    """Check a custom endpoint: an http or https URL with a host."""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"Invalid endpoint_url {endpoint_url!r}: expected an http:// or https:// URL"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigurationError(f"Invalid endpoint_url {endpoint_url!r}: {exc}") from exc
    return endpoint_url


def resolve_endpoint(
    *,
    region: str | None,
    endpoint_url: str | None = None,
    use_fips: bool = False,
    use_dualstack: bool = False,
    partitions: tuple[Partition, ...] = PARTITIONS,
) -> str:
    """Return the endpoint URL for the given settings, as the service's rule set does.

    Raises:
        ConfigurationError: FIPS or dual-stack with a custom endpoint, a
            partition without the requested variant, or a missing or invalid region.

    Example:
        >>> resolve_endpoint(region="us-gov-west-1", use_fips=True)
        'https://imagebuilder.us-gov-west-1.amazonaws.com'
        >>> resolve_endpoint(region="cn-north-1", use_dualstack=True)
        'https://imagebuilder.cn-north-1.api.amazonwebservices.com.cn'
    """
    if endpoint_url is not None:
        if use_fips:
            raise ConfigurationError(
                "Invalid configuration: FIPS and custom endpoint are not supported"
            )
        if use_dualstack:
            raise ConfigurationError(
                "Invalid configuration: dual-stack and custom endpoint are not supported"
            )
        return validate_endpoint_url(endpoint_url)
    if region is None:
        raise ConfigurationError(
            "Invalid configuration: missing region. Pass region=, or set AWS_REGION "
            "or AWS_DEFAULT_REGION"
        )
    region = validate_region(region)
    partition = partition_for(region, partitions)
    if use_fips and not partition.supports_fips:
        raise ConfigurationError(
            f"FIPS is enabled but partition {partition.name} does not support FIPS"
        )
    if use_dualstack and partition.dual_stack_dns_suffix is None:
        raise ConfigurationError(
            f"Dual-stack is enabled but partition {partition.name} does not support dual-stack"
        )
    if use_fips and use_dualstack:
        return f"https://{SERVICE}-fips.{region}.{partition.dual_stack_dns_suffix}"
    if use_fips:
        if partition.name == "aws-us-gov":
            return f"https://{SERVICE}.{region}.amazonaws.com"
        return f"https://{SERVICE}-fips.{region}.{partition.dns_suffix}"
    if use_dualstack:
        return f"https://{SERVICE}.{region}.{partition.dual_stack_dns_suffix}"
    return f"https://{SERVICE}.{region}.{partition.dns_suffix}"
