"""The ``sigv4-imagebuilder`` command, shaped like ``aws imagebuilder``.

One command per operation of ``OPERATIONS`` (:data:`COMMANDS`): its flags come from the
operation's members, its output from the reply as the service spelt it. The
``wait`` commands poll GetImage as ``aws imagebuilder wait`` does.

The list commands page as ``aws`` does (``_cli_pages``); ``cancel-pipeline-builds``
is ours (``_cli_pipeline``).

Exit codes follow AWS CLI v2: 0 success, 252 bad parameters or usage (nothing
is sent), 253 configuration or credentials, 254 service error (or a pipeline
build that could not be cancelled), 255 anything else (a failed or timed-out
wait included), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import attrs

from ._cli_context import (
    add_global_options,
    add_wait_options,
    make_client,
    printing,
    terminal_width,
)
from ._cli_errors import EXIT_CONFIG, EXIT_OTHER, EXIT_SERVICE, EXIT_USAGE, exit_code
from ._cli_pages import Pages, add_flags, check_flags
from ._cli_shorthand import parse_filters
from ._errors import ImageBuilderError, ServiceError
from ._operations import CANCEL_IMAGE_CREATION, GET_IMAGE, OPERATIONS
from ._output_order import in_model_order
from ._shapes import Member, Operation
from ._text import printable
from ._version import __version__

if TYPE_CHECKING:
    from ._client import ImageBuilderClient
    from ._models import GetImageResponse

PROG = "sigv4-imagebuilder"
EXIT_OK = 0
EXIT_INTERRUPTED = 130
__all__ = ["EXIT_CONFIG", "EXIT_OTHER", "EXIT_SERVICE", "EXIT_USAGE", "main", "run"]


@attrs.frozen
class Command:
    """One operation as a command: ``aws imagebuilder``'s name for it and a line of help.

    The flags are the operation's members, spelt as the AWS CLI spells them
    (``imageBuildVersionArn`` -> ``--image-build-version-arn``); the client
    method called is the operation's name in snake case. An operation that
    pages gets the AWS CLI's paging flags and merged output, from its spec.
    """

    name: str
    operation: Operation[Any]
    help: str
    can_wait: bool = False

    @property
    def pages(self) -> Pages | None:
        """How the AWS CLI merges the operation's pages, or None if it does not page."""
        return Pages.of(self.operation.paginator)


#: The commands: one per operation of the table, named and described by its spec.
COMMANDS = tuple(
    Command(
        re.sub(r"(?<!^)(?=[A-Z])", "-", op.name).lower(),
        op,
        op.summary,
        can_wait=op is CANCEL_IMAGE_CREATION,
    )
    for op in sorted(OPERATIONS.values(), key=lambda op: op.name)
)

_CANCEL_PIPELINE_HELP = (
    "cancel every build of a pipeline that has not finished (a command of this tool's "
    "own; aws has no such command): prints each image's outcome as JSON, progress on stderr"
)

#: The codes with which the service refuses to cancel an image in a terminal state.
_TERMINAL_REFUSALS = frozenset({"InvalidRequestException", "ResourceInUseException"})

#: ``wait`` subcommands: (client method, what it waits for).
WAITERS = {
    "image-available": ("wait_until_image_available", "the image is AVAILABLE"),
    "image-cancelled": ("wait_until_image_cancelled", "the image is CANCELLED"),
}


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse exits with 2; the AWS CLI uses 252 for usage errors.
        raise _UsageError(f"{self.format_usage()}{self.prog}: error: {message}")


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _snake(name: str) -> str:
    return _kebab(name).replace("-", "_")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subcommand per :data:`COMMANDS` row, plus ``wait``."""
    parser = _Parser(
        prog=PROG,
        description="EC2 Image Builder from the command line, as 'aws imagebuilder' "
        "does it, without boto3.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    add_global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        sub.set_defaults(run=_call, spec=command)
        paginator = command.operation.paginator
        # As the AWS CLI: the paging members work but are not shown (--max-items & co. are).
        hidden = {paginator.input_token, paginator.limit} if paginator else set()
        for member in command.operation.members:
            sub.add_argument(f"--{_kebab(member.wire)}", dest=member.name,
                             **_member_flag(member, member.name in hidden))  # fmt: skip
        if command.pages is not None:
            add_flags(sub)
        if command.can_wait:
            sub.add_argument("--wait", action="store_true",
                             help="then wait until the image is CANCELLED, printing each "
                             "status change on stderr")  # fmt: skip
            add_wait_options(sub)
        add_global_options(sub, suppress=True)
    _pipeline_command(commands)
    wait = commands.add_parser(
        "wait",
        help="wait until an image reaches a state",
        description="Poll GetImage until the image reaches a state.",
    )
    waiters = wait.add_subparsers(dest="waiter", metavar="WAITER", parser_class=_Parser)
    waiters.required = True
    for name, (method, what) in WAITERS.items():
        sub = waiters.add_parser(name, help=f"wait until {what}", description=f"Wait until {what}.")
        sub.set_defaults(run=_wait, method=method)
        sub.add_argument("--image-build-version-arn", dest="image_build_version_arn",
                         required=True, metavar="ARN",
                         help="the image build version's ARN")  # fmt: skip
        add_wait_options(sub)
        add_global_options(sub, suppress=True)
    return parser


def _member_flag(member: Member, hidden: bool) -> dict[str, Any]:
    extra = " (generated if omitted)" if member.idempotency_token else ""
    flag: dict[str, Any] = {
        "metavar": member.wire.upper(),
        "required": member.required and not member.idempotency_token,
        "help": argparse.SUPPRESS if hidden else f"{member.wire}{extra}",
    }
    if member.kind == "integer":
        flag["type"] = int
    elif member.kind == "filters":
        names = ", ".join(sorted(member.filter_names))
        flag.update(nargs="+", metavar="FILTER",
                    help=f"name=NAME,values=V1,V2 ... (the AWS CLI's shorthand) or JSON; "
                    f"names: {names}")  # fmt: skip
    return flag


def _pipeline_command(commands: Any) -> None:
    description = (f"{_CANCEL_PIPELINE_HELP}. Exit 0 when every image ended cancelled or "
                   "had already finished, 254 when any failed.")  # fmt: skip
    sub = commands.add_parser("cancel-pipeline-builds", help=_CANCEL_PIPELINE_HELP,
                              description=description)  # fmt: skip
    sub.set_defaults(run=_cancel_pipeline)
    sub.add_argument("--image-pipeline-arn", dest="image_pipeline_arn", required=True,
                     metavar="ARN", help="the pipeline's ARN")  # fmt: skip
    sub.add_argument("--wait", action="store_true",
                     help="wait until each cancelled image is CANCELLED")  # fmt: skip
    sub.add_argument("--max-concurrency", type=int, metavar="N",
                     help="images worked on at once (default 8)")  # fmt: skip
    add_global_options(sub, suppress=True)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run the command; return the exit code instead of raising.

    ``env`` stands in for ``os.environ`` (tests pass their own).
    """
    import os

    if stdout is None:
        _tolerant(sys.stdout)
    if stderr is None:
        _tolerant(sys.stderr)
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    environ = os.environ if env is None else env
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(exc, file=err)
        return EXIT_USAGE
    if args.command is None:
        print(parser.format_help(), file=err)
        return EXIT_USAGE
    handler: logging.Handler | None = None
    logger = logging.getLogger("sigv4_imagebuilder")
    if args.debug:
        handler = logging.StreamHandler(err)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        run: Callable[[argparse.Namespace, Mapping[str, str], TextIO, TextIO], int] = args.run
        return exit_code(lambda: run(args, environ, out, err), err)
    except KeyboardInterrupt:
        # The AWS CLI ends the interrupted line on stdout.
        print("", file=out)
        return EXIT_INTERRUPTED
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)


def _tolerant(stream: TextIO) -> None:
    # A reply may hold text this terminal cannot show (a lone surrogate, or
    # non-ASCII under LC_ALL=C): print it escaped rather than die mid-line.
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")


def _wait_args(args: argparse.Namespace) -> dict[str, float]:
    given = {"max_wait": args.max_wait, "min_delay": args.min_delay, "max_delay": args.max_delay}
    return {name: value for name, value in given.items() if value is not None}


def _call(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from ._cli_progress import StatusLines
    from ._output import render
    from ._protocol import response_to_wire

    command: Command = args.spec
    # Bad --query or --output settings are found before anything is sent.
    output, query = printing(args, env)
    wait = _wait_args(args) if command.can_wait and args.wait else None
    params = _params(args, command.operation)
    paginator = command.operation.paginator
    manual = paginator is not None and bool({paginator.input_token, paginator.limit} & set(params))
    if command.pages is not None and check_flags(args, manual):
        from ._cli_pages import run_list

        call = (command.operation, command.pages, params, _snake(command.operation.name))
        return run_list(args, env, out, call)
    with make_client(args, env) as client:
        method = getattr(client, _snake(command.operation.name))
        operation = command.operation
        try:
            response = method(**params)
        except ServiceError as exc:
            response = None if wait is None else _already_cancelled(client, params, exc, err)
            if response is None:
                raise
            operation, wait = (
                GET_IMAGE,
                None,
            )  # print the image's state instead; nothing to wait for
        shape = f"{operation.name}Response"
        wire = in_model_order(response_to_wire(response), shape)
        title, width = operation.name, terminal_width(out)
        out.write(render(wire, output, query, title=title, width=width))
        out.flush()
        if wait is None:
            return EXIT_OK
        arn = params["image_build_version_arn"]
        client.wait_until_image_cancelled(arn, on_status=StatusLines(err), **wait)
    return EXIT_OK


def _already_cancelled(
    client: ImageBuilderClient, params: dict[str, Any], refused: ServiceError, err: TextIO
) -> GetImageResponse | None:
    """``cancel-image-creation --wait`` on an image already CANCELLED: the wait is met.

    The service refuses to cancel an image in a terminal state; when that
    state is CANCELLED, what the user waits for has happened, so the command
    says so on stderr and succeeds, printing the image (its GetImage reply) on
    stdout. Any other state keeps the refusal (None).
    """
    if refused.status_code != 400 or refused.code not in _TERMINAL_REFUSALS:
        return None
    try:
        current = client.get_image(params["image_build_version_arn"])
    except ImageBuilderError:
        return None  # the refusal is the error to show
    image = current.image
    state = image.state if image is not None else None
    if state is None or state.status != "CANCELLED":
        return None
    print(f"CANCELLED already; the service refused the cancel: {printable(refused.message, 300)}",
          file=err)  # fmt: skip
    return current


def _params(args: argparse.Namespace, operation: Operation[Any]) -> dict[str, Any]:
    """The client method's arguments from the flags given (``--filters`` parsed)."""
    given = {m: getattr(args, m.name) for m in operation.members}
    return {
        m.name: parse_filters(value) if m.kind == "filters" else value
        for m, value in given.items()
        if value is not None
    }


def _cancel_pipeline(
    args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO
) -> int:
    from ._cli_pipeline import cancel_pipeline_builds

    return cancel_pipeline_builds(args, env, out, err)


def _wait(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    with make_client(args, env) as client:
        getattr(client, args.method)(args.image_build_version_arn, **_wait_args(args))
    return EXIT_OK


def run() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())
