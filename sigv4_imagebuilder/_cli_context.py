"""What every command takes from its flags and the environment: the client, and how to print.

Shared by the command's rooms (``_cli``, ``_cli_pages``, ``_cli_pipeline``) so
that none of them imports another for it: the global options, the client they
describe, the output format and ``--query``, the terminal's width.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from ._output import DEFAULT_OUTPUT, OUTPUT_FORMATS, check_output_format, compile_query

if TYPE_CHECKING:
    import httpx

    from ._client import ImageBuilderClient


def _seconds(text: str) -> float:
    # As the AWS CLI: seconds, 0 for no timeout; refused here, before anything is sent.
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:  # negative or NaN
        raise argparse.ArgumentTypeError(f"must be 0 (no timeout) or positive seconds: {text}")
    return value


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, before or after its name, as the AWS CLI's.

    The subcommands' copies default to SUPPRESS so that they only override.
    """
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--region", help="the AWS region (default: AWS_REGION, the profile)",
                        **default)  # fmt: skip
    parser.add_argument("--profile", help="the shared-config profile to use", **default)
    parser.add_argument("--endpoint-url", metavar="URL", help="send requests to this URL",
                        **default)  # fmt: skip
    parser.add_argument("--max-attempts", type=int, metavar="N",
                        help="total attempts including retries (default 3)", **default)  # fmt: skip
    parser.add_argument("--cli-connect-timeout", type=_seconds, metavar="SECONDS",
                        help="the longest wait for a connection, 0 for none (default 10)",
                        **default)  # fmt: skip
    parser.add_argument("--cli-read-timeout", type=_seconds, metavar="SECONDS",
                        help="the longest wait for the reply's next bytes, 0 for none "
                        "(default 60)", **default)  # fmt: skip
    parser.add_argument("--query", metavar="JMESPATH",
                        help="a JMESPath query applied to the reply before printing",
                        **default)  # fmt: skip
    parser.add_argument("--output", choices=OUTPUT_FORMATS,
                        help="json, text, table, yaml or yaml-stream (default: "
                        "AWS_DEFAULT_OUTPUT, the profile's output, json); yaml needs the "
                        "yaml extra", **default)  # fmt: skip
    parser.add_argument("--debug", action="store_true",
                        help="log each attempt and retry decision to stderr (secrets redacted)",
                        **default)  # fmt: skip
    parser.add_argument("--no-paginate", action="store_true",
                        help="list commands: make one call, print its reply as is",
                        **default)  # fmt: skip


def add_wait_options(parser: argparse.ArgumentParser) -> None:
    """How long to wait and how often to poll."""
    parser.add_argument("--max-wait", type=float, metavar="SECONDS",
                        help="give up after this long (default: the waiter's)")  # fmt: skip
    parser.add_argument("--min-delay", type=float, metavar="SECONDS",
                        help="the shortest delay between polls")  # fmt: skip
    parser.add_argument("--max-delay", type=float, metavar="SECONDS",
                        help="the longest delay between polls")  # fmt: skip


def timeout(args: argparse.Namespace) -> httpx.Timeout | None:
    """``--cli-connect-timeout`` and ``--cli-read-timeout`` over the library's defaults.

    None when neither is given (the client keeps its own); ``0`` is no timeout
    for that phase, as in the AWS CLI.
    """
    connect = getattr(args, "cli_connect_timeout", None)
    read = getattr(args, "cli_read_timeout", None)
    if connect is None and read is None:
        return None
    import httpx

    from ._options import DEFAULT_TIMEOUT

    return httpx.Timeout(
        connect=DEFAULT_TIMEOUT.connect if connect is None else (connect or None),
        read=DEFAULT_TIMEOUT.read if read is None else (read or None),
        write=DEFAULT_TIMEOUT.write,
        pool=DEFAULT_TIMEOUT.pool,
    )


def make_client(args: argparse.Namespace, env: Mapping[str, str]) -> ImageBuilderClient:
    """The sync client the global options describe."""
    from ._client import ImageBuilderClient

    return ImageBuilderClient(
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        max_attempts=args.max_attempts,
        timeout=timeout(args),
        env=env,
    )


def output_format(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    """``--output``, else ``AWS_DEFAULT_OUTPUT``, else the profile's ``output``, else json."""
    if args.output is not None:
        return check_output_format(str(args.output), "--output")
    if env.get("AWS_DEFAULT_OUTPUT"):
        return check_output_format(env["AWS_DEFAULT_OUTPUT"], "AWS_DEFAULT_OUTPUT")
    from ._config import select_profile
    from ._shared_files import read_shared_files

    files = read_shared_files(env)
    name, _, config = select_profile(files, env, args.profile)
    if config.get("output"):
        return check_output_format(config["output"], f"profile {name!r} output")
    return DEFAULT_OUTPUT


def printing(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[str, Any]:
    """The output format and the compiled ``--query``; bad ones are found before sending.

    Raises:
        OutputError: a ``--query`` that does not compile, an unknown format, a
            yaml format without its library.
    """
    query = compile_query(args.query) if args.query is not None else None
    return output_format(args, env), query


def terminal_width(out: TextIO) -> int:
    """The columns of the terminal ``out`` writes to; 80 when it is not one, as ``aws``."""
    try:
        return os.get_terminal_size(out.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        return 80
