"""The list commands, paged as the AWS CLI pages: its flags, its ``NextToken``, its merged output.

As ``aws`` (botocore's ``PageIterator``) does it: pages are followed and their
items merged into one list, the first page's other keys (``requestId``) after
it; ``--max-items`` stops early, cutting a page if it must, and prints a
``NextToken`` that ``--starting-token`` takes back. That token is botocore's
own encoding, base64 of JSON ``{"nextToken": ..., "boto_truncate_amount": N}``
(the count only when a page was cut), so tokens pass between ``aws`` and us.
:func:`follow_pages` does no I/O: :func:`run_list` hands it a function that
fetches one page with the client.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from ._errors import ImageBuilderError
from ._output import render, search
from ._output_order import in_model_order
from ._text import printable

if TYPE_CHECKING:
    from ._shapes import Operation, Paginator

#: botocore's key for how many items of the token's page were already printed.
_TRUNCATE = "boto_truncate_amount"

#: One page, fetched with this service token (None: the first): the page as the
#: service spelt it, and the token for the next one (None on the last).
Fetch = Callable[[str | None], tuple[dict[str, Any], str | None]]


class PaginationArgumentError(ValueError):
    """A pagination flag the command refuses before sending anything."""


@attrs.frozen(kw_only=True)
class Pages:
    """How one command's replies page, as botocore's paginator model says.

    Attributes:
        token: the input member (and output key) that carries the token, on the wire.
        result_key: the reply's list that pages (botocore's ``result_key``).
        non_aggregate: the first page's other keys kept in the merged result
            (``non_aggregate_keys`` in botocore's ``paginators-1.sdk-extras.json``).
    """

    token: str
    result_key: str
    non_aggregate: tuple[str, ...] = ()

    @classmethod
    def of(cls, paginator: Paginator | None) -> Pages | None:
        """The operation's paging as the AWS CLI merges it; None if it does not page."""
        if paginator is None:
            return None
        return cls(
            token=paginator.wire_token,
            result_key=paginator.wire_items,
            non_aggregate=paginator.non_aggregate,
        )


@attrs.frozen(kw_only=True)
class Listing:
    """The pages as printed: cut to ``--max-items``, and the token to resume from."""

    pages: tuple[dict[str, Any], ...]
    next_token: str | None


def add_flags(parser: argparse.ArgumentParser) -> None:
    """The AWS CLI's pagination flags (``--no-paginate`` is a global option)."""
    parser.add_argument("--starting-token", metavar="TOKEN",
                        help="resume from the NextToken a truncated listing printed")  # fmt: skip
    parser.add_argument("--page-size", type=int, metavar="N",
                        help="items per service call (the listing is the same)")  # fmt: skip
    parser.add_argument("--max-items", type=int, metavar="N",
                        help="print at most N items, then a NextToken to resume from")  # fmt: skip


def check_flags(args: argparse.Namespace, manual: bool) -> bool:
    """Whether to follow pages; ``manual``: a ``--max-results``/``--next-token`` was given.

    As the AWS CLI: either of those, or ``--no-paginate``, makes one call, and
    then ``--starting-token``, ``--page-size`` and ``--max-items`` are refused.

    Raises:
        PaginationArgumentError: that combination, or ``--max-items`` below 1.
    """
    paginate = not (args.no_paginate or manual)
    if not paginate:
        given = [
            flag
            for flag, value in (
                ("--starting-token", args.starting_token),
                ("--page-size", args.page_size),
                ("--max-items", args.max_items),
            )
            if value is not None
        ]
        if given:
            raise PaginationArgumentError(
                "Cannot specify --no-paginate (or --max-results, --next-token) along with "
                f"pagination arguments: {', '.join(given)}"
            )
    if args.max_items is not None and args.max_items < 1:
        raise PaginationArgumentError(f"--max-items must be at least 1, got {args.max_items}")
    return paginate


def encode_token(token: str | None, printed: int | None = None) -> str:
    """The ``NextToken`` the AWS CLI prints: resume at ``token``'s page, after ``printed`` items.

    Example:
        >>> encode_token("abc")
        'eyJuZXh0VG9rZW4iOiAiYWJjIn0='
        >>> decode_token(encode_token(None, 2))
        (None, 2)
    """
    data: dict[str, object] = {"nextToken": token}
    if printed is not None:
        data[_TRUNCATE] = printed
    return base64.b64encode(json.dumps(data).encode("utf-8")).decode("ascii")


def decode_token(text: str) -> tuple[str | None, int]:
    """A ``--starting-token``: the service token to send and how many of its page's items to skip.

    A token that is not botocore's encoding is botocore's older form
    (``token___skip``) or the service's own token, as botocore reads it.

    Raises:
        PaginationArgumentError: botocore's encoding with other keys or a bad count.
    """
    try:
        data = json.loads(base64.b64decode(text.encode("utf-8")).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeError):
        data = None
    shown = printable(text, 60)
    if not isinstance(data, dict):
        parts = text.split("___")
        if len(parts) > 2:
            raise PaginationArgumentError(f"Bad starting token: {shown}")
        if len(parts) == 2 and parts[1].isascii() and parts[1].isdigit():
            return (None if parts[0] == "None" else parts[0]), int(parts[1])
        return (None if text == "None" else text), 0
    if set(data) - {"nextToken", _TRUNCATE}:
        raise PaginationArgumentError(f"Bad starting token: {shown}")
    token, skip = data.get("nextToken"), data.get(_TRUNCATE, 0)
    if token is not None and not isinstance(token, str):
        raise PaginationArgumentError(f"Bad starting token: {shown}")
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise PaginationArgumentError(f"Bad starting token: {shown}")
    return (None if token in ("", "None") else token), skip


def follow_pages(
    fetch: Fetch,
    pages: Pages,
    *,
    operation: str,
    starting_token: str | None = None,
    max_items: int | None = None,
) -> Listing:
    """Fetch pages until the last one, or until ``max_items`` items, as the AWS CLI does.

    Raises:
        PaginationArgumentError: a bad ``starting_token``; nothing was fetched.
        ImageBuilderError: the service handed back a token already used in
            this listing (following it would loop).
        Exception: whatever ``fetch`` raises.
    """
    token, skip = decode_token(starting_token) if starting_token is not None else (None, 0)
    seen = {token} if token else set()
    printed: list[dict[str, Any]] = []
    total = 0
    while True:
        page, following = fetch(token)
        items = list(page.get(pages.result_key) or [])
        if not printed:
            items = items[skip:]
        else:
            skip = 0
        if max_items is not None and total + len(items) > max_items:
            kept = max_items - total
            printed.append({**page, pages.result_key: items[:kept]})
            return Listing(pages=tuple(printed), next_token=encode_token(token, kept + skip))
        printed.append({**page, pages.result_key: items})
        total += len(items)
        if not following:
            return Listing(pages=tuple(printed), next_token=None)
        if max_items is not None and total == max_items:
            return Listing(pages=tuple(printed), next_token=encode_token(following))
        if following in seen:
            raise ImageBuilderError(
                f"{operation} returned a {pages.token} already used in this listing; "
                "stopping rather than looping"
            )
        seen.add(following)
        token = following


def render_listing(
    listing: Listing,
    pages: Pages,
    output: str,
    query: Any = None,
    *,
    title: str = "",
    width: int = 80,
) -> str:
    """What ``aws`` prints for the listing.

    json, table, yaml: one document, the merged items, the first page's
    non-aggregate keys, then ``NextToken``, with ``--query`` applied to it.
    text: each page on its own (the first with its non-aggregate keys), then
    ``NextToken``, the query applied to each, as the AWS CLI's text formatter
    does. yaml-stream: each page whole, as an item of one list, the query
    applied to each, ``NextToken`` in the last.
    """
    first = listing.pages[0]
    head = {key: first.get(key) for key in pages.non_aggregate}
    if output == "yaml-stream":
        from ._output_yaml import render_yaml_stream

        streamed = [dict(page) for page in listing.pages]
        if listing.next_token is not None:
            streamed[-1]["NextToken"] = listing.next_token
        return render_yaml_stream(search(query, page) for page in streamed)
    if output != "text":
        merged: dict[str, Any] = {
            pages.result_key: [item for page in listing.pages for item in page[pages.result_key]],
            **head,
        }
        if listing.next_token is not None:
            merged["NextToken"] = listing.next_token
        return render(merged, output, query, title=title, width=width)
    parts = [
        {**(head if index == 0 else {}), pages.result_key: page[pages.result_key]}
        for index, page in enumerate(listing.pages)
    ]
    if listing.next_token is not None:
        parts.append({"NextToken": {"NextToken": listing.next_token}})
    return "".join(render(part, output, query) for part in parts)


def run_list(
    args: argparse.Namespace,
    env: Mapping[str, str],
    out: TextIO,
    call: tuple[Operation[Any], Pages, dict[str, Any], str],
) -> int:
    """A list command as ``aws`` runs it: every page followed and merged, cut at
    ``--max-items``. ``call``: the operation, its pages, the flags' parameters and
    the client method that fetches a page."""
    from ._cli_context import make_client, printing, terminal_width

    operation, pages, params, method_name = call
    paginator = operation.paginator
    assert paginator is not None
    output, query = printing(args, env)
    if args.starting_token is not None:
        decode_token(args.starting_token)  # a bad token is refused before anything is sent
    if args.page_size is not None:
        params = {**params, paginator.limit: args.page_size}
    with make_client(args, env) as client:
        method = getattr(client, method_name)

        def fetch(token: str | None) -> tuple[dict[str, Any], str | None]:
            page = method(**params, **({paginator.input_token: token} if token else {}))
            wire = in_model_order(operation.to_wire(page), f"{operation.name}Response")
            return wire, paginator.output_token(page)

        listing = follow_pages(
            fetch,
            pages,
            operation=operation.name,
            starting_token=args.starting_token,
            max_items=args.max_items,
        )
    shown = render_listing(
        listing, pages, output, query, title=operation.name, width=terminal_width(out)
    )
    out.write(shown)
    out.flush()
    return 0
