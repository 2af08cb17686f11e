"""Client configuration, resolved the way the AWS CLI v2 resolves it.

Pure functions over an environment mapping and file contents: the only I/O is
:func:`read_shared_files`, which the client calls once at construction.

=================  ==========================================================
Setting            Resolution order (first wins)
=================  ==========================================================
region             ``region=`` > AWS_REGION > AWS_DEFAULT_REGION > profile ``region``
profile            ``profile=`` > AWS_PROFILE > AWS_DEFAULT_PROFILE > ``default``
endpoint           ``endpoint_url=`` > AWS_ENDPOINT_URL_IMAGEBUILDER > AWS_ENDPOINT_URL >
                   profile's ``services`` section (``imagebuilder`` > ``endpoint_url``) >
                   profile ``endpoint_url``
FIPS, dual-stack   argument > AWS_USE_FIPS_ENDPOINT / AWS_USE_DUALSTACK_ENDPOINT > profile
max attempts       argument > AWS_MAX_ATTEMPTS > profile ``max_attempts`` > 3
=================  ==========================================================
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar, Union

import attrs

from ._endpoints import resolve_endpoint, validate_region
from ._errors import ConfigurationError, ParamValidationError

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 3
SERVICE_ID = "imagebuilder"
_ENV_ENDPOINT = "AWS_ENDPOINT_URL_IMAGEBUILDER"

#: A parsed INI file: section -> key -> value, where a value may itself be a
#: nested mapping (``imagebuilder =`` followed by indented ``key = value`` lines).
Sections = dict[str, dict[str, Union[str, dict[str, str]]]]


@attrs.frozen(kw_only=True)
class SharedFiles:
    """The parsed shared config and credentials files, and where they live."""

    config_path: str
    # The sections may hold secret keys: never in a repr.
    config: Sections = attrs.field(factory=dict, hash=False, repr=False)
    credentials_path: str
    credentials: Sections = attrs.field(factory=dict, hash=False, repr=False)


@attrs.frozen(kw_only=True)
class ClientConfig:
    """The settings a client runs with, once every source has been consulted."""

    region: str
    endpoint_url: str
    max_attempts: int
    profile_name: str
    explicit_profile: bool
    #: The profile's keys from the config file ([default] or [profile NAME]);
    #: they may include a secret key, so they stay out of the repr.
    profile: Mapping[str, str] = attrs.field(factory=dict, hash=False, repr=False)
    #: The profile's keys from the credentials file ([NAME]).
    profile_credentials: Mapping[str, str] = attrs.field(factory=dict, hash=False, repr=False)
    files: SharedFiles | None = attrs.field(default=None, hash=False, repr=False)


def parse_ini(text: str, path: str) -> Sections:
    """Parse an AWS shared config or credentials file.

    Raises:
        ConfigurationError: the file is malformed; the message names the file and line.

    Example:
        >>> parse_ini("[profile dev]\\nregion = eu-west-1\\n", "config")
        {'profile dev': {'region': 'eu-west-1'}}
    """
    parser = configparser.RawConfigParser(default_section="\x00no-defaults", strict=False)
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        # Name the line but never echo it: a broken line may hold a secret key.
        if isinstance(exc, configparser.MissingSectionHeaderError):
            reason = f"line {exc.lineno}: a key = value before any [section]"
        elif isinstance(exc, configparser.ParsingError):
            lines = ", ".join(str(lineno) for lineno, _ in exc.errors)
            reason = f"line {lines}: expected [section] or key = value"
        else:
            reason = type(exc).__name__
        raise ConfigurationError(f"Unable to parse config file {path}, {reason}") from None
    sections: Sections = {}
    for name in parser.sections():
        section: dict[str, str | dict[str, str]] = {}
        for key, value in parser.items(name):
            if value.startswith("\n"):
                nested: dict[str, str] = {}
                for line in value.splitlines():
                    if not line.strip():
                        continue
                    sub_key, sep, sub_value = line.partition("=")
                    if not sep:
                        raise ConfigurationError(
                            f"Unable to parse config file {path}: in [{name}], nested line "
                            f"{line.strip()!r} of {key!r} is not 'key = value'"
                        )
                    nested[sub_key.strip()] = sub_value.strip()
                section[key] = nested
            else:
                section[key] = value
        sections[name.strip()] = section
    return sections


def _flat(section: Mapping[str, str | dict[str, str]] | None) -> dict[str, str]:
    return {k: v for k, v in (section or {}).items() if isinstance(v, str)}


def shared_file_paths(env: Mapping[str, str]) -> tuple[str, str]:
    """Where the config and credentials files are, per AWS_CONFIG_FILE and friends."""
    home = env.get("HOME") or os.path.expanduser("~")
    config = env.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config")
    creds = env.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, ".aws", "credentials")
    return os.path.expanduser(config), os.path.expanduser(creds)


def read_shared_files(env: Mapping[str, str]) -> SharedFiles:
    """Read and parse both shared files; a missing file is an empty one."""
    config_path, credentials_path = shared_file_paths(env)

    def load(path: str) -> Sections:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"Unable to read config file {path}: {exc}") from exc
        return parse_ini(text, path)

    return SharedFiles(
        config_path=config_path,
        config=load(config_path),
        credentials_path=credentials_path,
        credentials=load(credentials_path),
    )


def _bool(value: str | None, where: str) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ConfigurationError(f"{where} must be 'true' or 'false', got {value!r}")


def _int(value: str | None, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigurationError(f"{where} must be a whole number, got {value!r}") from None
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
    """Check that ``value`` is a whole number of attempts, at least 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamValidationError(source, "must be an int", value)
    if value < 1:
        raise ParamValidationError(source, "must be at least 1 (1 means no retries)", value)
    return value


def _sections(
    files: SharedFiles, name: str
) -> tuple[Mapping[str, str | dict[str, str]] | None, Mapping[str, str | dict[str, str]] | None]:
    # [default] or [profile NAME] in the config file ([profile default] also
    # names the default profile); [NAME] in the credentials file.
    config_section = files.config.get("default" if name == "default" else f"profile {name}")
    if config_section is None and name == "default":
        config_section = files.config.get("profile default")
    return config_section, files.credentials.get(name)


def profile_keys(files: SharedFiles, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """A profile's keys from the config file and from the credentials file ({} if absent)."""
    config_section, creds_section = _sections(files, name)
    return _flat(config_section), _flat(creds_section)


def select_profile(
    files: SharedFiles, env: Mapping[str, str], profile: str | None
) -> tuple[str, bool, dict[str, str], dict[str, str]]:
    """Return (name, explicit, config keys, credentials keys) of the profile in use.

    Raises:
        ConfigurationError: a profile was named (argument or environment) but
            neither file has it.
    """
    explicit = profile is not None
    name = profile or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE")
    named = name is not None
    name = name or "default"
    config_section, creds_section = _sections(files, name)
    if named and name != "default" and config_section is None and creds_section is None:
        raise ConfigurationError(
            f"The config profile ({name}) could not be found in {files.config_path} "
            f"or {files.credentials_path}"
        )
    return name, explicit, _flat(config_section), _flat(creds_section)


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
    nested = section.get(SERVICE_ID)
    if isinstance(nested, dict):
        return nested.get("endpoint_url") or None
    return None


def resolve_config(
    *,
    env: Mapping[str, str],
    files: SharedFiles | None = None,
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
        files: the parsed shared files; read from ``env``'s paths when None.

    Raises:
        ConfigurationError: a missing or invalid region, an unknown named
            profile, a malformed file or a bad setting; the message says which.
    """
    if max_attempts is not None:
        max_attempts = validate_max_attempts(max_attempts)
    if profile is not None and (not isinstance(profile, str) or not profile):
        raise ParamValidationError("profile", "must be a non-empty str", profile)
    if files is None:
        files = read_shared_files(env)
    name, explicit, section, creds_section = select_profile(files, env, profile)
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
            env, "AWS_MAX_ATTEMPTS", section, "max_attempts", where, _int
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
        profile=section,
        profile_credentials=creds_section,
        files=files,
    )
