"""The command's ``--filters``: the AWS CLI's shorthand syntax, or JSON, read into a mapping.

``--filters name=name,values=web* name=version,values=1.0.0`` (one structure per
word; a value list is comma-separated or bracketed, ``values=[a,b]``; quote a value
with ``'`` or ``"``, escape a comma in a bare value with ``\\,``), or
``--filters '[{"name": "name", "values": ["web*"]}]'``, or one JSON object per
word. Pure functions: the result is the ``filters`` mapping the client takes,
and the client checks it against the service model.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Sequence
from typing import Any

from ._text import printable

#: A bare value's first character (not a quote, ``,``, ``=``, ``[``, ``{`` or space)
#: and the characters after it, as the AWS CLI's grammar has them; a value after a
#: comma in a list may not hold ``=`` (that is where the next key begins).
_START = r"!#-&(-+\--<>-Z\\-z|-\uffff"
_FIRST = re.compile(rf"(?:\\,|[{_START}])(?:\\,|[\s!#-&(-+\--\\^-|~-\uffff])*")
_SECOND = re.compile(rf"(?:\\,|[{_START}])(?:\\,|[\s!#-&(-+\--<>-\uffff])*")
_SINGLE = re.compile(r"'(?:\\'|[^'])*'")
_DOUBLE = re.compile(r'"(?:\\"|[^"])*"')
_KEY_CHARS = frozenset(string.ascii_letters + string.digits + "-_.#/:")
_MEMBERS = ("name", "values")


class FiltersError(ValueError):
    """A ``--filters`` value that is neither valid shorthand nor valid JSON filters."""


class _Syntax(FiltersError):
    def __init__(self, text: str, expected: str, index: int) -> None:
        actual = text[index] if index < len(text) else "EOF"
        super().__init__(
            f"Expected: {expected!r}, received: {actual!r} for input:\n"
            f"{printable(text, 200)}\n{' ' * index}^"
        )


class _Shorthand:
    """One word of shorthand: ``key=value,key=a,b,key=[c,d]``, into a dict."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def parse(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        while True:
            key = self._key()
            self._expect("=")
            if key in params:
                raise FiltersError(
                    f"Second instance of key {key!r} in {printable(self.text, 200)!r}; "
                    'separate filters with a space, not ","'
                )
            params[key] = self._values()
            if self.i >= len(self.text):
                return params
            self._expect(",")

    def _key(self) -> str:
        self._space()
        start = self.i
        while self.i < len(self.text) and self.text[self.i] in _KEY_CHARS:
            self.i += 1
        return self.text[start : self.i]

    def _values(self) -> Any:
        self._space()
        if self.i >= len(self.text):
            return ""
        if self.text[self.i] == "[":
            return self._list()
        if self.text[self.i] == "{":
            raise FiltersError("a {...} value is not a filter's name or values")
        first = self._value(_FIRST)
        self._space()
        values = [first]
        while self.i < len(self.text) and self.text[self.i] == ",":
            comma = self.i
            self.i += 1
            self._space()
            # "a,b,key=c": the word after the last comma is the next key; give it back.
            match = self._match(_SECOND) if self._at_bare() else None
            if match is None and not self._at_quote():
                self.i = comma
                break
            value = match if match is not None else self._quoted()
            self._space()
            if self.i < len(self.text) and self.text[self.i] not in ",":
                self.i = comma
                break
            values.append(value)
        return first if len(values) == 1 else values

    def _list(self) -> list[str]:
        self._expect("[")
        items: list[str] = []
        self._space()
        while self.i < len(self.text) and self.text[self.i] != "]":
            if self.text[self.i] in "[{":
                raise FiltersError("a nested list or {...} is not a filter value")
            items.append(self._value(_FIRST))
            self._space()
            if self.i < len(self.text) and self.text[self.i] != "]":
                self._expect(",")
        self._expect("]")
        self._space()
        return items

    def _value(self, pattern: re.Pattern[str]) -> str:
        if self._at_quote():
            return self._quoted()
        found = self._match(pattern)
        return "" if found is None else found

    def _quoted(self) -> str:
        quote = self.text[self.i]
        found = (_SINGLE if quote == "'" else _DOUBLE).match(self.text, self.i)
        if found is None:
            raise _Syntax(self.text, f"closing {quote}", len(self.text))
        self.i = found.end()
        inner = found.group()[1:-1]
        return inner.replace("\\" + quote, quote).replace("\\\\", "\\")

    def _match(self, pattern: re.Pattern[str]) -> str | None:
        found = pattern.match(self.text, self.i)
        if found is None:
            return None
        self.i = found.end()
        return found.group().replace("\\,", ",").rstrip()

    def _at_quote(self) -> bool:
        return self.i < len(self.text) and self.text[self.i] in "'\""

    def _at_bare(self) -> bool:
        return self.i < len(self.text) and not self._at_quote()

    def _expect(self, char: str) -> None:
        self._space()
        if self.i >= len(self.text) or self.text[self.i] != char:
            raise _Syntax(self.text, char, self.i)
        self.i += 1
        self._space()

    def _space(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in string.whitespace:
            self.i += 1


def parse_filters(words: Sequence[str]) -> dict[str, list[str]]:
    """The ``--filters`` words as the client's ``filters`` mapping.

    JSON when the first word starts with ``[`` (one word, a list) or ``{``
    (one object per word), as the AWS CLI decides; shorthand otherwise.

    Raises:
        FiltersError: bad syntax, a key other than ``name`` and ``values``, a
            filter without a name, or the same name twice.

    Example:
        >>> parse_filters(["name=name,values=web*,db", "name=version,values=1.0.0"])
        {'name': ['web*', 'db'], 'version': ['1.0.0']}
        >>> parse_filters(['[{"name": "name", "values": ["web*"]}]'])
        {'name': ['web*']}
    """
    first = words[0].strip() if words else ""
    if first.startswith("["):
        if len(words) != 1:
            raise FiltersError("a JSON list must be the only --filters value")
        items = _json(words[0])
        if not isinstance(items, list):
            raise FiltersError("the JSON must be a list of filters")
    elif first.startswith("{"):
        items = [_json(word) for word in words]
    else:
        items = [_Shorthand(word).parse() for word in words]
    filters: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        name, values = _filter(item, index)
        if name in filters:
            raise FiltersError(f"filter {name!r} is given twice; list its values in one filter")
        filters[name] = values
    return filters


def _json(word: str) -> Any:
    try:
        return json.loads(word)
    except ValueError as exc:
        raise FiltersError(f"Invalid JSON: {exc}") from None


def _filter(item: object, index: int) -> tuple[str, list[str]]:
    where = f"filters[{index}]"
    if not isinstance(item, dict):
        raise FiltersError(f"{where}: must be an object with name and values")
    unknown = sorted(set(item) - set(_MEMBERS))
    if unknown:
        shown = printable(str(unknown[0]), 40)
        raise FiltersError(f"{where}: unknown key {shown!r}; a filter has name and values")
    name = item.get("name")
    if not isinstance(name, str):
        raise FiltersError(f"{where}: needs a name (a string)")
    values = item.get("values", [])
    if isinstance(values, str):
        values = [values]  # values=web* is a list of one, as the AWS CLI reads it
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise FiltersError(f"{where}: values must be a list of strings")
    return name, values
