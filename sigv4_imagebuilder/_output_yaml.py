"""``--output yaml`` and ``yaml-stream``, as AWS CLI v2 prints them, through ruamel.yaml.

AWS CLI v2 dumps with ruamel.yaml's pure-Python safe dumper in block style, so
its keys come out sorted and strings that YAML would read as something else
(``true``, ``null``, ``a: b``; YAML 1.2's rules) quoted. ``yaml`` prints one document;
``yaml-stream`` prints each reply (each page of a listing) as an item of one
top-level list, as it arrives. ruamel.yaml is the ``yaml`` extra, imported only
for these formats.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

#: The extra that brings the YAML library.
YAML_EXTRA = 'pip install "sigv4-imagebuilder[yaml]"'


def yaml_missing() -> str | None:
    """A one-line reason when ruamel.yaml cannot be imported, else None."""
    try:
        import ruamel.yaml  # noqa: F401
    except ImportError:
        return f"--output yaml and yaml-stream need ruamel.yaml: {YAML_EXTRA}"
    return None


def _dumper() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    return yaml


def render_yaml(data: Any) -> str:
    """One YAML document; ``""`` for an empty reply, as the AWS CLI prints nothing then.

    Example:
        >>> print(render_yaml({"requestId": "r-1", "clientToken": "true"}), end="")
        clientToken: 'true'
        requestId: r-1
    """
    if isinstance(data, dict) and not data:
        return ""
    stream = io.StringIO()
    _dumper().dump(data, stream)
    return stream.getvalue()


def render_yaml_stream(parts: Iterable[Any]) -> str:
    """Each part as an item of one top-level list, as ``yaml-stream`` prints pages.

    Example:
        >>> print(render_yaml_stream([{"a": 1}, {"a": 2}]), end="")
        - a: 1
        - a: 2
    """
    dumper = _dumper()
    stream = io.StringIO()
    for part in parts:
        dumper.dump([part], stream)
    return stream.getvalue()
