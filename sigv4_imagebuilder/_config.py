"""Client configuration, resolved the way the AWS CLI v2 resolves it.

:func:`resolve_config` is a pure function of the arguments, the environment
mapping and the parsed shared files (``_shared_files``), which a client reads
once when it is built and passes in.

=================  ==========================================================
Setting            Resolution order (first wins)
=================  ==========================================================
region             ``region=`` > AWS_REGION > AWS_DEFAULT_REGION > profile ``region``
profile            ``profile=`` > AWS_PROFILE > AWS_DEFAULT_PROFILE > ``default``
endpoint           ``endpoint_url=`` > AWS_ENDPOINT_URL_IMAGEBUILDER > AWS_ENDPOINT_URL >
                   profile's ``services`` section (``imagebuilder`` > ``endpoint_url``) >
                   profile ``endpoint_url``
FIPS, dual-stack   argument > AWS_USE_FIPS_ENDPOINT / AWS_USE_DUALSTACK_ENDPOINT > profile
max attempts       argument > AWS_MAX_ATTEMPTS > profile ``max_attempts`` > 3 (at most 50)
CA bundle          AWS_CA_BUNDLE > profile ``ca_bundle`` > REQUESTS_CA_BUNDLE > the engine's
=================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import attrs

from ._endpoints import SERVICE, resolve_endpoint, validate_region
from ._errors import ConfigurationError, ParamValidationError
from ._shared_files import SharedFiles, flat, profile_sections

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 3
#: The most attempts a call may make. botocore sets no bound; 50 attempts at
#: the 20 s backoff cap is already a quarter of an hour of retrying, and the
#: retry budget (500 tokens, 5 a retry) stops a client near 100 retries anyway.
MAX_MAX_ATTEMPTS = 50
_ENV_ENDPOINT = f"AWS_ENDPOINT_URL_{SERVICE.upper()}"


@attrs.frozen(kw_only=True)
class ClientConfig:
    """The settings a client runs with, once every source has been consulted."""

    region: str
    endpoint_url: str
    max_attempts: int
    #: The profile in use, and whether ``profile=`` named it (which skips
    #: the environment's credentials).
    profile_name: str
    explicit_profile: bool
    #: The CA certificates to verify servers with; None for the HTTP engine's default.
    ca_bundle: str | None = None


def _bool(value: str | None, where: str) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ConfigurationError(f"{where} must be 'true' or 'false', got {value!r}")


def _attempts(value: str | None, where: str) -> int | None:
    if value is None or value == "":
        return None
    text = value.strip()
    # Checked as text first: int() of a 5,000-digit string raises its own
    # ValueError, and a 31-digit one is a number no loop should count to.
    if not (text.isascii() and text.isdigit()):
        raise ConfigurationError(f"{where} must be a whole number, got {value[:40]!r}")
    if len(text) > 3 or int(text) > MAX_MAX_ATTEMPTS:
        raise ConfigurationError(f"{where} must be at most {MAX_MAX_ATTEMPTS}, got {text[:40]}")
    number = int(text)
    if number < 1:
        raise ConfigurationError(f"{where} must be at least 1, got {number}")
    return number


def _env_then_profile(
    env: Mapping[str, str],
    variable: str,
    profile: Mapping[str, str],
    key: str,
    where: str,
    parse: Callable[[str | None, str], T | None],
) -> T | None:
    """The setting from ``variable`` if set, else from the profile's ``key``."""
    value = parse(env.get(variable), variable)
    if value is None:
        value = parse(profile.get(key), f"{key} in {where}")
    return value


def validate_max_attempts(value: object, source: str = "max_attempts") -> int:
    """Check that ``value`` is a whole number of attempts, from 1 to :data:`MAX_MAX_ATTEMPTS`.

    Raises:
        ParamValidationError: not an int, below 1 or above the maximum.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamValidationError(source, "must be an int", value)
    if value < 1:
        raise ParamValidationError(source, "must be at least 1 (1 means no retries)", value)
    if value > MAX_MAX_ATTEMPTS:
        raise ParamValidationError(source, f"must be at most {MAX_MAX_ATTEMPTS}", value)
    return value


def select_profile(
    files: SharedFiles, env: Mapping[str, str], profile: str | None
) -> tuple[str, bool, dict[str, str]]:
    """Return (name, explicit, config-file keys) of the profile in use.

    Raises:
        ConfigurationError: a profile was named (argument or environment) but
            neither file has it.
    """
    explicit = profile is not None
    name = profile or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE")
    named = name is not None
    name = name or "default"
    config_section, creds_section = profile_sections(files, name)
    if named and name != "default" and config_section is None and creds_section is None:
        raise ConfigurationError(
            f"The config profile ({name}) could not be found in {files.config_path} "
            f"or {files.credentials_path}"
        )
    return name, explicit, flat(config_section)


def _services_endpoint(files: SharedFiles, profile: Mapping[str, str]) -> str | None:
    services_name = profile.get("services")
    if not services_name:
        return None
    section = files.config.get(f"services {services_name}")
    if section is None:
        raise ConfigurationError(
            f"Profile refers to services section {services_name!r}, which "
            f"{files.config_path} does not have"
        )
    nested = section.get(SERVICE)
    if isinstance(nested, dict):
        return nested.get("endpoint_url") or None
    return None


def resolve_config(
    *,
    env: Mapping[str, str],
    files: SharedFiles,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    use_fips_endpoint: bool | None = None,
    use_dualstack_endpoint: bool | None = None,
    max_attempts: int | None = None,
) -> ClientConfig:
    """Resolve the client's settings from arguments, environment and shared files.

    Args:
        env: the environment (``os.environ`` in real use).
        files: the parsed shared files (``read_shared_files(env)``).

    Raises:
        ConfigurationError: a missing or invalid region, an unknown named
            profile or a bad setting; the message says which.
    """
    if max_attempts is not None:
        max_attempts = validate_max_attempts(max_attempts)
    if profile is not None and (not isinstance(profile, str) or not profile):
        raise ParamValidationError("profile", "must be a non-empty str", profile)
    name, explicit, section = select_profile(files, env, profile)
    where = f"profile {name} in {files.config_path}"

    region = (
        region
        if region is not None
        else env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or section.get("region")
    )
    if region is None:
        raise ConfigurationError(
            "Invalid configuration: missing region. Pass region=, set AWS_REGION or "
            f"AWS_DEFAULT_REGION, or set region in the {name} profile"
        )
    region = validate_region(region)

    if use_fips_endpoint is None:
        use_fips_endpoint = _env_then_profile(
            env, "AWS_USE_FIPS_ENDPOINT", section, "use_fips_endpoint", where, _bool
        )
    if use_dualstack_endpoint is None:
        use_dualstack_endpoint = _env_then_profile(
            env, "AWS_USE_DUALSTACK_ENDPOINT", section, "use_dualstack_endpoint", where, _bool
        )

    if endpoint_url is None:
        ignore = _env_then_profile(
            env,
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            section,
            "ignore_configured_endpoint_urls",
            where,
            _bool,
        )
        if not ignore:
            endpoint_url = (
                env.get(_ENV_ENDPOINT)
                or env.get("AWS_ENDPOINT_URL")
                or _services_endpoint(files, section)
                or section.get("endpoint_url")
                or None
            )

    if max_attempts is None:
        max_attempts = _env_then_profile(
            env, "AWS_MAX_ATTEMPTS", section, "max_attempts", where, _attempts
        )

    return ClientConfig(
        region=region,
        endpoint_url=resolve_endpoint(
            region=region,
            endpoint_url=endpoint_url,
            use_fips=bool(use_fips_endpoint),
            use_dualstack=bool(use_dualstack_endpoint),
        ),
        max_attempts=max_attempts if max_attempts is not None else DEFAULT_MAX_ATTEMPTS,
        profile_name=name,
        explicit_profile=explicit,
        ca_bundle=(
            env.get("AWS_CA_BUNDLE")
            or section.get("ca_bundle")
            or env.get("REQUESTS_CA_BUNDLE")
            or None
        ),
    )
