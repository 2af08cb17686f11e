"""Endpoint resolution: the Image Builder endpoint rule set over a static partition table.

The table is copied from botocore's ``data/partitions.json``; nothing is read at
run time.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import attrs

from ._errors import ConfigurationError

#: Image Builder's name in every place the service model gives one: its
#: endpoint prefix, its SigV4 signing name, and (as ``AWS_ENDPOINT_URL_<ID>``
#: and the ``[services]`` key) its service id in configuration.
SERVICE = "imagebuilder"


@attrs.frozen(kw_only=True)
class Partition:
    """One AWS partition: which regions it holds and how its hosts are named."""

    name: str
    #: Compiled when first tried (by ``re``'s cache): a region of the first
    #: partition never pays for the other seven.
    region_regex: str
    dns_suffix: str
    dual_stack_dns_suffix: str | None
    supports_fips: bool = True


# Order matters only for the default: a region no regex claims is in "aws",
# as the rules engine's aws.partition function decides.
PARTITIONS: tuple[Partition, ...] = (
    Partition(
        name="aws",
        region_regex=r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$",
        dns_suffix="amazonaws.com",
        dual_stack_dns_suffix="api.aws",
    ),
    Partition(
        name="aws-cn",
        region_regex=r"^cn\-\w+\-\d+$",
        dns_suffix="amazonaws.com.cn",
        dual_stack_dns_suffix="api.amazonwebservices.com.cn",
    ),
    Partition(
        name="aws-us-gov",
        region_regex=r"^us\-gov\-\w+\-\d+$",
        dns_suffix="amazonaws.com",
        dual_stack_dns_suffix="api.aws",
    ),
    Partition(
        name="aws-iso",
        region_regex=r"^us\-iso\-\w+\-\d+$",
        dns_suffix="c2s.ic.gov",
        dual_stack_dns_suffix="api.aws.ic.gov",
    ),
    Partition(
        name="aws-iso-b",
        region_regex=r"^us\-isob\-\w+\-\d+$",
        dns_suffix="sc2s.sgov.gov",
        dual_stack_dns_suffix="api.aws.scloud",
    ),
    Partition(
        name="aws-iso-e",
        region_regex=r"^eu\-isoe\-\w+\-\d+$",
        dns_suffix="cloud.adc-e.uk",
        dual_stack_dns_suffix="api.cloud-aws.adc-e.uk",
    ),
    Partition(
        name="aws-iso-f",
        region_regex=r"^us\-isof\-\w+\-\d+$",
        dns_suffix="csp.hci.ic.gov",
        dual_stack_dns_suffix="api.aws.hci.ic.gov",
    ),
    Partition(
        name="aws-eusc",
        region_regex=r"^eusc\-(de)\-\w+\-\d+$",
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
        if re.match(partition.region_regex, region):
            return partition
    return partitions[0]


# A host name (letters, digits, dots, hyphens, underscores) or a bracketed
# IPv6 literal. Anything else (``%``, ``\\``, a second ``@``) could make httpx
# and our signer disagree about which host is meant.
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])$")
_AUTHORITY_RE = re.compile(r"^([^:/?#]*://)?([^/?#]*)(.*)$", re.DOTALL)


#: The longest endpoint URL accepted: a host and a short path prefix fit many
#: times over; httpx refuses URLs past 64 KiB only when a request is sent.
MAX_ENDPOINT_URL = 2048


def _valid_dns_name(host: str) -> bool:
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    return len(host) <= 253 and all(0 < len(label) <= 63 for label in labels)


def _shown(url: str) -> str:
    """``url`` fit for an error message: any userinfo replaced by ``***``."""
    match = _AUTHORITY_RE.match(url)
    assert match is not None  # the pattern matches every string
    scheme, authority, rest = match.groups()
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    return repr(f"{scheme or ''}{authority}{rest}")


def validate_endpoint_url(endpoint_url: object, *, name: str = "endpoint_url") -> str:
    """Return ``endpoint_url`` if it is a plain http(s) URL, else raise ConfigurationError.

    Allowed: ``http`` or ``https``, a host name or IP literal, an optional
    port (1-65535), an optional path. Refused: user info (httpx would send it
    as Basic auth instead of our signature; the message never shows it), a
    query string or a fragment (they would corrupt the operation's path),
    whitespace or control characters anywhere, an empty host, a bad port.

    Args:
        endpoint_url: the URL to check.
        name: what to call it in the message (a setting or variable name).

    Returns:
        ``endpoint_url`` unchanged.

    Raises:
        ConfigurationError: the URL breaks one of the rules above.

    Example:
        >>> validate_endpoint_url("http://127.0.0.1:8080/prefix")
        'http://127.0.0.1:8080/prefix'
        >>> try:
        ...     validate_endpoint_url("https://user:pw@example.com")
        ... except ConfigurationError as exc:
        ...     print(exc)
        Invalid endpoint_url 'https://***@example.com': user info (user:password@) is not ...
    """
    if not isinstance(endpoint_url, str):
        raise ConfigurationError(f"Invalid {name}: expected a string URL")

    def refuse(reason: str) -> ConfigurationError:
        return ConfigurationError(f"Invalid {name} {_shown(endpoint_url)}: {reason}")

    if len(endpoint_url) > MAX_ENDPOINT_URL:
        raise ConfigurationError(f"Invalid {name}: longer than {MAX_ENDPOINT_URL} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in endpoint_url):
        raise refuse("it contains whitespace or control characters")
    try:
        parts = urlsplit(endpoint_url)
    except ValueError:  # an unclosed "[" of an IPv6 literal
        raise refuse("expected a host name or an IP address") from None
    if parts.scheme not in ("http", "https"):
        raise refuse("expected an http:// or https:// URL")
    if "@" in parts.netloc:
        raise refuse("user info (user:password@) is not allowed; requests are signed instead")
    if "?" in endpoint_url or parts.query:
        raise refuse("a query string is not allowed")
    if "#" in endpoint_url or parts.fragment:
        raise refuse("a fragment is not allowed")
    netloc = parts.netloc
    if netloc.startswith("["):
        end = netloc.find("]") + 1
        host, port_text = (netloc[:end], netloc[end:]) if end else (netloc, "")
    else:
        host, colon, digits = netloc.partition(":")
        port_text = colon + digits
    if not host or _HOST_RE.fullmatch(host) is None:
        raise refuse("expected a host name or an IP address")
    if not host.startswith("[") and not _valid_dns_name(host):
        # Caught here rather than as a raw idna UnicodeError on every call.
        raise refuse("a host name has labels of 1 to 63 characters, 253 at most in all")
    if port_text:
        digits = port_text[1:]
        if not (
            port_text.startswith(":")
            and digits.isascii()
            and digits.isdigit()
            and len(digits) <= 5
            and 1 <= int(digits) <= 65535
        ):
            raise refuse("the port must be a number from 1 to 65535")
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
