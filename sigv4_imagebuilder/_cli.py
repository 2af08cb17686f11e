"""The ``sigv4-imagebuilder`` command, shaped like ``aws imagebuilder``.

One table row per operation (:data:`COMMANDS`): its flags come from the
operation's members, its output from the reply as the service spelt it. The
``wait`` commands poll GetImage as ``aws imagebuilder wait`` does.

Exit codes follow AWS CLI v2: 0 success, 252 bad parameters or usage (nothing
is sent), 253 configuration or credentials, 254 service error, 255 anything
else (a failed or timed-out wait included), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import attrs

from ._errors import (
    ConfigurationError,
    CredentialRetrievalError,
    ImageBuilderError,
    NoCredentialsError,
    ParamValidationError,
    ServiceError,
    WaiterError,
)
from ._operations import CANCEL_IMAGE_CREATION, GET_IMAGE
from ._output import (
    DEFAULT_OUTPUT,
    OUTPUT_FORMATS,
    OutputError,
    QueryError,
    check_output_format,
)
from ._shapes import Operation
from ._version import __version__

if TYPE_CHECKING:
    from ._client import ImageBuilderClient
    from ._models import GetImageResponse

PROG = "sigv4-imagebuilder"
EXIT_OK = 0
EXIT_USAGE = 252
EXIT_CONFIG = 253
EXIT_SERVICE = 254
EXIT_OTHER = 255
EXIT_INTERRUPTED = 130


@attrs.frozen
class Command:
    """One operation as a command: ``aws imagebuilder``'s name for it and a line of help.

    The flags are the operation's members, spelt as the AWS CLI spells them
    (``imageBuildVersionArn`` -> ``--image-build-version-arn``); the client
    method called is the operation's name in snake case.
    """

    name: str
    operation: Operation[Any]
    help: str
    can_wait: bool = False


#: The commands, one row per operation.
COMMANDS = (
    Command(
        "cancel-image-creation",
        CANCEL_IMAGE_CREATION,
        "cancel the creation of an image that is not in a terminal state",
        can_wait=True,
    ),
    Command("get-image", GET_IMAGE, "get an image's details, its state among them"),
)

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


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # The AWS CLI takes its global options before or after the command. The
    # subcommands' copies default to SUPPRESS so that they only override.
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--region", help="the AWS region (default: AWS_REGION, the profile)",
                        **default)  # fmt: skip
    parser.add_argument("--profile", help="the shared-config profile to use", **default)
    parser.add_argument("--endpoint-url", metavar="URL", help="send requests to this URL",
                        **default)  # fmt: skip
    parser.add_argument("--max-attempts", type=int, metavar="N",
                        help="total attempts including retries (default 3)", **default)  # fmt: skip
    parser.add_argument("--query", metavar="JMESPATH",
                        help="a JMESPath query applied to the reply before printing",
                        **default)  # fmt: skip
    parser.add_argument("--output", choices=OUTPUT_FORMATS,
                        help="json or text (default: AWS_DEFAULT_OUTPUT, the profile's "
                        "output, json)", **default)  # fmt: skip
    parser.add_argument("--debug", action="store_true",
                        help="log each attempt and retry decision to stderr (secrets redacted)",
                        **default)  # fmt: skip


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-wait", type=float, metavar="SECONDS",
                        help="give up after this long (default: the waiter's)")  # fmt: skip
    parser.add_argument("--min-delay", type=float, metavar="SECONDS",
                        help="the shortest delay between polls")  # fmt: skip
    parser.add_argument("--max-delay", type=float, metavar="SECONDS",
                        help="the longest delay between polls")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subcommand per :data:`COMMANDS` row, plus ``wait``."""
    parser = _Parser(
        prog=PROG,
        description="EC2 Image Builder from the command line, as 'aws imagebuilder' "
        "does it, without boto3.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        sub.set_defaults(run=_call, spec=command)
        for member in command.operation.members:
            flag = f"--{_kebab(member.wire)}"
            extra = " (generated if omitted)" if member.idempotency_token else ""
            sub.add_argument(flag, dest=member.name, metavar=member.wire.upper(),
                             required=member.required and not member.idempotency_token,
                             help=f"{member.wire}{extra}")  # fmt: skip
        if command.can_wait:
            sub.add_argument("--wait", action="store_true",
                             help="then wait until the image is CANCELLED, printing each "
                             "status change on stderr")  # fmt: skip
            _wait_options(sub)
        _global_options(sub, suppress=True)
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
        _wait_options(sub)
        _global_options(sub, suppress=True)
    return parser


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
        return _errors_to_exit_codes(lambda: run(args, environ, out, err), err)
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


def _errors_to_exit_codes(run: Callable[[], int], err: TextIO) -> int:
    try:
        return run()
    except QueryError as exc:  # the call was made; only printing its reply failed
        print(f"\n{exc}", file=err)
        return EXIT_OTHER
    except OutputError as exc:
        print(f"\n{exc}", file=err)
        return EXIT_USAGE
    except ParamValidationError as exc:
        print(f"\nParameter validation failed:\n{exc}", file=err)
        return EXIT_USAGE
    except (ConfigurationError, NoCredentialsError, CredentialRetrievalError) as exc:
        print(f"\n{exc}", file=err)
        return EXIT_CONFIG
    except ServiceError as exc:
        print(f"\n{exc}", file=err)
        return EXIT_SERVICE
    except WaiterError as exc:
        print(f"\n{exc}", file=err)
        return EXIT_OTHER
    except ImageBuilderError as exc:
        print(f"\n{type(exc).__name__}: {exc}", file=err)
        return EXIT_OTHER
    except Exception as exc:  # a bug of ours: one line and the documented code, no traceback
        logging.getLogger("sigv4_imagebuilder").debug("unexpected error", exc_info=True)
        print(f"\n{PROG}: unexpected {type(exc).__name__}; rerun with --debug", file=err)
        return EXIT_OTHER


def _client(args: argparse.Namespace, env: Mapping[str, str]) -> ImageBuilderClient:
    from ._client import ImageBuilderClient

    return ImageBuilderClient(
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        max_attempts=args.max_attempts,
        env=env,
    )


def _output_format(args: argparse.Namespace, env: Mapping[str, str]) -> str:
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


def _wait_args(args: argparse.Namespace) -> dict[str, float]:
    given = {"max_wait": args.max_wait, "min_delay": args.min_delay, "max_delay": args.max_delay}
    return {name: value for name, value in given.items() if value is not None}


def _call(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from ._output import compile_query, render
    from ._protocol import response_to_wire

    command: Command = args.spec
    # Bad --query or --output settings are found before anything is sent.
    query = compile_query(args.query) if args.query is not None else None
    output = _output_format(args, env)
    wait = _wait_args(args) if command.can_wait and args.wait else None
    params = {member.name: getattr(args, member.name) for member in command.operation.members}
    with _client(args, env) as client:
        method = getattr(client, _snake(command.operation.name))
        response = method(**{k: v for k, v in params.items() if v is not None})
        out.write(render(response_to_wire(response), output, query))
        out.flush()
        if wait is None:
            return EXIT_OK
        arn = params["image_build_version_arn"]
        client.wait_until_image_cancelled(arn, on_status=_Progress(err), **wait)
    return EXIT_OK


def _wait(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    with _client(args, env) as client:
        getattr(client, args.method)(args.image_build_version_arn, **_wait_args(args))
    return EXIT_OK


class _Progress:
    """Prints each status change on stderr: ``BUILDING -> CANCELLED after 42 s``."""

    def __init__(self, err: TextIO) -> None:
        self._err = err
        self._start = time.monotonic()
        self._last: str | None = None

    def __call__(self, response: GetImageResponse) -> None:
        image = response.image
        status = (image.state.status if image and image.state else None) or "UNKNOWN"
        elapsed = time.monotonic() - self._start
        if self._last is None:
            print(f"{status} after {elapsed:.0f} s", file=self._err)
        else:
            print(f"{self._last} -> {status} after {elapsed:.0f} s", file=self._err)
        self._last = status
        self._err.flush()


def run() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())
