"""``--output table``: the AWS CLI's table layout, drawn from plain data.

The rules are those of ``awscli/formatter.py`` (``TableFormatter``) and
``awscli/table.py`` (``MultiTable``), which v1 and v2 share: a title row with
the operation's name, one section per nested object or list (indented one
``|`` per level), a dict of scalars as a header row over a value row, a list
of objects as a header row over one row per object, keys sorted, columns
scaled to the widest section. A table wider than the terminal turns every
single-row section on its side (a key and a value per row), as ``aws`` does.

Two differences, both where ``aws`` misbehaves: a control character in a value
(a newline, an escape sequence from a hostile reply) is shown escaped, not
written raw into the frame; rows of unequal length are padded, where ``aws``
raises. Colour, which ``aws`` adds on a terminal, is not drawn.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import attrs


def _width(text: str) -> int:
    # As awscli: East Asian wide, full-width and ambiguous characters take two columns.
    return sum(2 if unicodedata.east_asian_width(ch) in "WFA" else 1 for ch in text)


def _cell(value: Any) -> str:
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


@attrs.define
class _Section:
    title: str
    indent: int
    headers: list[str] = attrs.Factory(list)
    rows: list[list[str]] = attrs.Factory(list)

    def column_widths(self) -> list[int]:
        columns = max([len(self.headers)] + [len(row) for row in self.rows])
        widths = [0] * columns
        for row in [self.headers, *self.rows]:
            for index, cell in enumerate(row):
                widths[index] = max(widths[index], _width(cell))
        return widths

    def total_width(self) -> int:
        columns = sum(width + 4 for width in self.column_widths())
        border = 2 + 2 * self.indent
        return max(_width(self.title) + border, columns + border)


def _scaled(widths: list[int], total: int) -> list[int]:
    # Each column padded by 4, then all scaled to fill ``total`` exactly,
    # the rounding error taken off the first columns or given to the last.
    unscaled = [width + 4 for width in widths]
    if not unscaled:
        return []
    factor = total / float(sum(unscaled))
    scaled = [round(factor * width) for width in unscaled]
    off_by = sum(scaled) - total
    while off_by != 0:
        order = range(len(scaled)) if off_by > 0 else reversed(range(len(scaled)))
        for index in order:
            scaled[index] += -1 if off_by > 0 else 1
            off_by += -1 if off_by > 0 else 1
            if off_by == 0:
                break
    return scaled


class _Builder:
    """Walks the data as awscli's ``TableFormatter`` does, collecting sections."""

    def __init__(self) -> None:
        self.sections: list[_Section] = []

    def build(self, title: str | None, current: Any, indent: int = 0) -> bool:
        if not current:
            return False
        if title is not None:
            self.sections.append(_Section(title, indent))
        if isinstance(current, list):
            if isinstance(current[0], dict):
                self._from_list(current, indent, title)
            else:
                for item in current:
                    if not isinstance(item, (list, dict)):
                        self._row([item])
                    elif isinstance(item, list) and all(
                        not isinstance(element, (list, dict)) for element in item
                    ):
                        self._row(item)
                    else:
                        self.build(None, item)
        elif isinstance(current, dict):
            self._from_dict(current, indent)
        return True

    def _row(self, values: list[Any]) -> None:
        if not self.sections:  # a nested list at the top: awscli would fail
            self.sections.append(_Section("", 0))
        self.sections[-1].rows.append([_cell(value) for value in values])

    def _header(self, headers: list[str]) -> None:
        self.sections[-1].headers = [_cell(header) for header in headers]

    def _from_dict(self, current: dict[str, Any], indent: int) -> None:
        headers = sorted(k for k, v in current.items() if not isinstance(v, (list, dict)))
        more = sorted(k for k, v in current.items() if isinstance(v, (list, dict)))
        if len(headers) == 1:
            self._row([headers[0], current[headers[0]]])
        elif headers:
            if not self.sections:
                self.sections.append(_Section("", 0))
            self._header(headers)
            self._row([current[key] for key in headers])
        for key in more:
            self.build(key, current[key], indent + 1)

    def _from_list(self, current: list[Any], indent: int, title: str | None) -> None:
        objects = [element for element in current if isinstance(element, dict)]
        headers = sorted(
            {k for d in objects for k, v in d.items() if not isinstance(v, (list, dict))}
        )
        more = sorted({k for d in objects for k, v in d.items() if isinstance(v, (list, dict))})
        if not self.sections:
            self.sections.append(_Section("", 0))
        self._header(headers)
        first = True
        for element in current:
            if not first and more:
                self.sections.append(_Section(title or "", indent))
                self._header(headers)
            first = False
            if not isinstance(element, dict):  # a list of objects and others: awscli fails
                self._row([element, *[""] * (len(headers) - 1)])
                continue
            self._row([element.get(header, "") for header in headers])
            for key in more:
                if key in element:
                    self.build(key, element[key], indent + 1)


def _center(text: str, length: int, left: str = "|", right: str = "|") -> str:
    start = (length // 2) - (_width(text) // 2) - 1
    so_far = len(left) + start + _width(text)
    return left + " " * start + text + " " * (length - len(right) - so_far) + right


def _align_left(text: str, length: int, left: str, right: str = "|") -> str:
    padding = 2 if length - (_width(text) + 2 + len(left) + len(right)) >= 0 else 0
    so_far = len(left) + padding + _width(text)
    return left + " " * padding + text + " " * (length - so_far - len(right)) + right


def _line_break(widths: list[int]) -> str:
    parts = [
        ("+" + "-" * (width - 2) + "+") if index == 0 else ("-" * (width - 1) + "+")
        for index, width in enumerate(widths)
    ]
    return "".join(parts)


def _vertical(sections: list[_Section]) -> list[_Section]:
    turned = []
    for section in sections:
        if len(section.rows) == 1 and section.headers:
            rows = [[h, v] for h, v in zip(section.headers, section.rows[0], strict=False)]
            section = _Section(section.title, section.indent, [], rows)
        turned.append(section)
    return turned


def _render_section(section: _Section, total: int) -> list[str]:
    width = total - 2 * section.indent
    lines: list[str] = []
    if section.title:
        lines.append(_center(section.title, width))
        if not section.headers and not section.rows:
            lines.append("+" + "-" * (width - 2) + "+")
    widths = _scaled(section.column_widths(), width)
    if section.headers:
        cells = [
            _center(header, w, "|" if i == 0 else "")
            for i, (w, header) in enumerate(zip(widths, section.headers, strict=False))
        ]
        lines.extend([_line_break(widths), "".join(cells)])
    if section.rows and widths:
        lines.append(_line_break(widths))
        for row in section.rows:
            padded = row + [""] * (len(widths) - len(row))
            lines.append(
                "".join(
                    _align_left(cell, w, "|" if i == 0 else "")
                    for i, (w, cell) in enumerate(zip(widths, padded, strict=False))
                )
            )
        lines.append(_line_break(widths))
    bar = "|" * section.indent
    return [bar + line + bar for line in lines]


def render_table(data: Any, title: str, terminal_width: int = 80) -> str:
    """What ``aws ... --output table`` prints for ``data``; ``""`` for an empty reply.

    Args:
        data: the reply (after any ``--query``) as the service spelt it.
        title: the top section's title, the operation's name (``"GetImage"``).
        terminal_width: the columns of the terminal (80 when not one, as ``aws``).

    Example:
        >>> reply = {"requestId": "r-1", "clientToken": "t"}
        >>> print(render_table(reply, "CancelImageCreation"), end="")
        ------------------------------
        |     CancelImageCreation    |
        +--------------+-------------+
        |  clientToken |  requestId  |
        +--------------+-------------+
        |  t           |  r-1        |
        +--------------+-------------+
    """
    builder = _Builder()
    if not builder.build(title, data):
        return ""
    sections = builder.sections
    total = max(section.total_width() for section in sections)
    if total > terminal_width:
        sections = _vertical(sections)
        total = max(section.total_width() for section in sections)
    lines = ["-" * total]
    for section in sections:
        lines.extend(_render_section(section, total))
    return "".join(line + "\n" for line in lines)
