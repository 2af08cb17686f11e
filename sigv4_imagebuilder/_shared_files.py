"""The shared config and credentials files: where they are, parsing, profile lookup.

The only I/O is :func:`read_shared_files`, which a client calls once when it is
built; everything else is a pure function of the environment mapping and the
parsed files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Union

import attrs

from ._errors import ConfigurationError

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


def _nested_line(text: str, section: str, key: str) -> int | None:
    """The number of the first line under ``key`` in ``section`` that is not key = value."""
    current = None
    in_key = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if line[0] not in " \t":
            if stripped.startswith("[") and stripped.endswith("]"):
                current, in_key = stripped[1:-1].strip(), False
            else:
                name = stripped.split("=", 1)[0].split(":", 1)[0].strip().lower()
                in_key = current == section and name == key
        elif in_key and "=" not in stripped:
            return number
    return None


def parse_ini(text: str, path: str) -> Sections:
    """Parse an AWS shared config or credentials file.

    Raises:
        ConfigurationError: the file is malformed; the message names the file
            and the line number, never the line (it may hold a secret key).

    Example:
        >>> parse_ini("[profile dev]\\nregion = eu-west-1\\n", "config")
        {'profile dev': {'region': 'eu-west-1'}}
    """
    if not text:
        return {}  # AWS_CONFIG_FILE=/dev/null, or an empty file
    # Most processes have no shared files to parse: load configparser only then.
    import configparser

    parser = configparser.RawConfigParser(default_section="\x00no-defaults", strict=False)
    reason: str | None = None
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
    # Raised outside the except block: ``from None`` hides configparser's
    # error but still keeps it as __context__, and its text holds the line.
    if reason is not None:
        raise ConfigurationError(f"Unable to parse config file {path}, {reason}")
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
                        number = _nested_line(text, name, key)
                        where = f"line {number}" if number is not None else f"[{name.strip()}]"
                        raise ConfigurationError(
                            f"Unable to parse config file {path}, {where}: an indented line "
                            f"under {key} = is not 'key = value'"
                        )
                    nested[sub_key.strip()] = sub_value.strip()
                section[key] = nested
            else:
                section[key] = value
        sections[name.strip()] = section
    return sections


def _home(env: Mapping[str, str]) -> str | None:
    # The caller's env only: never the real home behind an env= mapping.
    return env.get("HOME") or env.get("USERPROFILE") or None


def _expand(path: str, home: str | None) -> str:
    if home is not None and (path == "~" or path.startswith(("~/", "~" + os.sep))):
        return home + path[1:]
    return path


def shared_file_paths(env: Mapping[str, str]) -> tuple[str, str]:
    """Where the config and credentials files are, per AWS_CONFIG_FILE and friends.

    The home directory comes from ``env`` (``HOME``, else ``USERPROFILE``);
    without one, a ``~`` path stays unexpanded and is read as a missing file.
    """
    home = _home(env)
    config = env.get("AWS_CONFIG_FILE") or os.path.join("~", ".aws", "config")
    creds = env.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join("~", ".aws", "credentials")
    return _expand(config, home), _expand(creds, home)


def read_shared_files(env: Mapping[str, str]) -> SharedFiles:
    """Read and parse both shared files; a missing file is an empty one.

    Raises:
        ConfigurationError: a file exists but cannot be read, is not UTF-8, or
            is malformed (the message names the file and line, not the text),
            or its path holds a NUL character (the variable is named).
    """
    config_path, credentials_path = shared_file_paths(env)

    def load(path: str, variable: str) -> Sections:
        if path.startswith("~"):
            return {}  # no home directory in env to expand it with
        if "\x00" in path:  # open() would raise a bare ValueError
            raise ConfigurationError(
                f"Unable to read config file: {variable} contains a NUL character"
            )
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigurationError(f"Unable to read config file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigurationError(
                f"Unable to read config file {path}: it is not UTF-8 text"
            ) from None
        return parse_ini(text, path)

    return SharedFiles(
        config_path=config_path,
        config=load(config_path, "AWS_CONFIG_FILE"),
        credentials_path=credentials_path,
        credentials=load(credentials_path, "AWS_SHARED_CREDENTIALS_FILE"),
    )


def flat(section: Mapping[str, str | dict[str, str]] | None) -> dict[str, str]:
    """The plain ``key = value`` entries of a section (nested blocks left out)."""
    return {k: v for k, v in (section or {}).items() if isinstance(v, str)}


def profile_sections(
    files: SharedFiles, name: str
) -> tuple[Mapping[str, str | dict[str, str]] | None, Mapping[str, str | dict[str, str]] | None]:
    """Profile ``name``'s section in the config file and in the credentials file (or None).

    ``[default]`` or ``[profile NAME]`` in the config file (``[profile default]``
    also names the default profile); ``[NAME]`` in the credentials file.
    """
    config_section = files.config.get("default" if name == "default" else f"profile {name}")
    if config_section is None and name == "default":
        config_section = files.config.get("profile default")
    return config_section, files.credentials.get(name)


def profile_keys(files: SharedFiles, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """A profile's keys from the config file and from the credentials file ({} if absent)."""
    config_section, creds_section = profile_sections(files, name)
    return flat(config_section), flat(creds_section)
