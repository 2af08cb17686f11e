"""How the command prints a reply: the AWS CLI's ``--query`` and its output formats.

Pure functions of plain data: the command passes in the reply as the service
spelt it (camelCase keys, in wire order) and gets back the text to print.
The rules are the AWS CLI v2's (``awscli/formatter.py``, ``awscli/text.py``),
so a script that parses ``aws imagebuilder ... --output text`` parses ours.
``table`` is drawn by ``_output_table``; ``yaml`` and ``yaml-stream`` by
``_output_yaml`` (the ``yaml`` extra).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._text import printable

#: The formats ``--output`` accepts, the AWS CLI's default first.
OUTPUT_FORMATS = ("json", "text", "table", "yaml", "yaml-stream")
DEFAULT_OUTPUT = "json"


class OutputError(ValueError):
    """A ``--query`` that does not compile or an ``--output`` we do not know."""


class QueryError(OutputError):
    """A ``--query`` that compiled but failed on the reply (``abs()`` of a string)."""


def check_output_format(value: str, source: str) -> str:
    """Return ``value`` if it is a known format, else raise naming ``source``.

    Example:
        >>> check_output_format("text", "--output")
        'text'
        >>> check_output_format("tabular", "AWS_DEFAULT_OUTPUT")
        Traceback (most recent call last):
        ...
        sigv4_imagebuilder._output.OutputError: AWS_DEFAULT_OUTPUT: unsupported output format ...
    """
    if value not in OUTPUT_FORMATS:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise OutputError(
            f"{source}: unsupported output format {shown!r} "
            f"(choose from {', '.join(OUTPUT_FORMATS)})"
        )
    if value.startswith("yaml"):
        from ._output_yaml import yaml_missing

        missing = yaml_missing()
        if missing is not None:
            raise OutputError(missing)
    return value


def compile_query(expression: str) -> Any:
    """Compile a JMESPath ``--query``; raise :class:`OutputError` if it is not valid.

    jmespath is botocore's own dependency; it is imported only when a query is given.
    """
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(expression)
    except (JMESPathError, RecursionError, ValueError) as exc:
        # RecursionError: thousands of nested parentheses; ValueError: an index
        # past int()'s digit limit. Neither is the user's fault to debug.
        shown = expression if len(expression) <= 80 else expression[:80] + "..."
        raise OutputError(f"Bad value for --query {shown}: {_reason(exc)}") from None


def render(data: Any, output: str, query: Any = None, *, title: str = "", width: int = 80) -> str:
    """Return what the AWS CLI prints for ``data`` with ``--output`` and ``--query``.

    Args:
        data: the reply as the service spelt it (JSON-like: dicts, lists, scalars).
        output: one of :data:`OUTPUT_FORMATS`.
        query: a compiled JMESPath expression (see :func:`compile_query`), or ``None``.
        title: the table's title, the operation's name (``table`` only).
        width: the terminal's columns (``table`` only; 80 when not a terminal).

    Returns:
        The text to write to stdout, newline included; ``""`` when the AWS CLI
        prints nothing (an empty reply in json, an empty list in text).

    Example:
        >>> reply = {"requestId": "r-1", "clientToken": "tök", "imageBuildVersionArn": "arn"}
        >>> print(render(reply, "json"), end="")
        {
            "requestId": "r-1",
            "clientToken": "tök",
            "imageBuildVersionArn": "arn"
        }
        >>> print(render(reply, "text"), end="")
        tök	arn	r-1
        >>> print(render(reply, "text", compile_query("imageBuildVersionArn")), end="")
        arn
    """
    if query is not None:
        data = search(query, data)
    if output == "json":
        # The AWS CLI prints nothing for an empty reply, but prints other falsy values.
        if isinstance(data, Mapping) and not data:
            return ""
        return json.dumps(data, indent=4, ensure_ascii=False) + "\n"
    if output == "table":
        from ._output_table import render_table

        return render_table(data, title, width)
    if output == "yaml":
        from ._output_yaml import render_yaml

        return render_yaml(data)
    if output == "yaml-stream":
        from ._output_yaml import render_yaml_stream

        return render_yaml_stream([data])
    lines: list[str] = []
    _text(data, lines, identifier=None, scalar_keys=None)
    return "".join(line + "\n" for line in lines)


def search(query: Any, data: Any) -> Any:
    """``data`` with the compiled ``query`` applied (``data`` itself when None).

    Raises:
        QueryError: the query failed on this data.
    """
    if query is None:
        return data
    from jmespath.exceptions import JMESPathError

    try:
        return query.search(data)
    except (JMESPathError, RecursionError, ValueError, TypeError) as exc:
        raise QueryError(f"--query failed on the reply: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    # jmespath's own words, but short: older releases quote the whole
    # expression (and a caret line) in them.
    from jmespath.exceptions import JMESPathError

    if not isinstance(exc, JMESPathError):
        return type(exc).__name__
    return printable(str(exc), 160)


def _is_scalar(value: object) -> bool:
    return not isinstance(value, (dict, list))


def _text(
    item: Any, lines: list[str], *, identifier: str | None, scalar_keys: list[str] | None
) -> None:
    if isinstance(item, dict):
        _text_dict(item, lines, identifier=identifier, scalar_keys=scalar_keys)
    elif isinstance(item, list):
        _text_list(item, lines, identifier=identifier)
    else:
        lines.append(str(item))


def _text_list(items: list[Any], lines: list[str], *, identifier: str | None) -> None:
    if not items:
        return
    if any(isinstance(element, dict) for element in items):
        # A list of objects prints as rows of one table: every row has the
        # columns of all rows' scalar keys, in sorted order.
        keys = sorted(
            {k for d in items if isinstance(d, dict) for k, v in d.items() if _is_scalar(v)}
        )
        for element in items:
            _text(element, lines, identifier=identifier, scalar_keys=keys)
    elif any(isinstance(element, list) for element in items):
        scalars = [e for e in items if _is_scalar(e)]
        if scalars:
            _text_scalars(scalars, lines, identifier=identifier)
        for element in items:
            if not _is_scalar(element):
                _text(element, lines, identifier=identifier, scalar_keys=None)
    else:
        _text_scalars(items, lines, identifier=identifier)


def _text_scalars(items: list[Any], lines: list[str], *, identifier: str | None) -> None:
    if identifier is None:
        lines.append("\t".join(str(item) for item in items))
    else:
        lines.extend(f"{identifier.upper()}\t{item}" for item in items)


def _text_dict(
    item: dict[str, Any],
    lines: list[str],
    *,
    identifier: str | None,
    scalar_keys: list[str] | None,
) -> None:
    scalars: list[str] = []
    nested: list[tuple[str, Any]] = []
    if scalar_keys is None:
        for key, value in sorted(item.items()):
            if _is_scalar(value):
                scalars.append(str(value))
            else:
                nested.append((key, value))
    else:
        scalars = [str(item.get(key, "")) for key in scalar_keys]
        nested = [(key, item[key]) for key in sorted(set(item) - set(scalar_keys))]
    if scalars:
        if identifier is not None:
            scalars.insert(0, identifier.upper())
        lines.append("\t".join(scalars))
    for key, value in nested:
        _text(value, lines, identifier=key, scalar_keys=None)
