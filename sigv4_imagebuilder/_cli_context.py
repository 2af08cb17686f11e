"""What every command takes from its flags and the environment: the client, and how to print.

Shared by the command's rooms (``_cli``, ``_cli_pages``, ``_cli_pipeline``) so
that none of them imports another for it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._output import DEFAULT_OUTPUT, check_output_format, compile_query

if TYPE_CHECKING:
    from ._client import ImageBuilderClient


def make_client(args: argparse.Namespace, env: Mapping[str, str]) -> ImageBuilderClient:
    """The sync client the global options describe."""
    from ._client import ImageBuilderClient

    return ImageBuilderClient(
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        max_attempts=args.max_attempts,
        env=env,
    )


def output_format(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    """``--output``, else ``AWS_DEFAULT_OUTPUT``, else the profile's ``output``, else json."""
    if args.output is not None:
        return str(args.output)
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
        OutputError: a ``--query`` that does not compile, an unknown format.
    """
    query = compile_query(args.query) if args.query is not None else None
    return output_format(args, env), query
