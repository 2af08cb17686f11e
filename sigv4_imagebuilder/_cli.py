"""The ``sigv4-imagebuilder`` command, shaped like ``aws imagebuilder cancel-image-creation``.

Exit codes follow AWS CLI v2: 0 success, 252 bad parameters or usage (nothing
is sent), 253 configuration or credentials, 254 service error, 255 anything
else, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from ._errors import (
    ConfigurationError,
    CredentialRetrievalError,
    ImageBuilderError,
    NoCredentialsError,
    ParamValidationError,
    ServiceError,
)
from ._version import __version__

PROG = "sigv4-imagebuilder"
EXIT_OK = 0
EXIT_USAGE = 252
EXIT_CONFIG = 253
EXIT_SERVICE = 254
EXIT_OTHER = 255
EXIT_INTERRUPTED = 130


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse exits with 2; the AWS CLI uses 252 for usage errors.
        raise _UsageError(f"{self.format_usage()}{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one command, with the AWS CLI's flag names."""
    parser = _Parser(
        prog=PROG,
        description="Cancel an EC2 Image Builder image build, as "
        "'aws imagebuilder cancel-image-creation' does, without boto3.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    cancel = commands.add_parser(
        "cancel-image-creation",
        help="cancel the creation of an image that is not in a terminal state",
        description="Cancel the creation of an image. Prints the service's JSON reply.",
    )
    cancel.add_argument("--image-build-version-arn", required=True, metavar="ARN",
                        help="the ARN of the image build version to cancel")  # fmt: skip
    cancel.add_argument("--client-token", metavar="TOKEN",
                        help="idempotency token, 1-64 chars; generated if omitted")  # fmt: skip
    cancel.add_argument("--region", help="the AWS region (default: AWS_REGION, the profile)")
    cancel.add_argument("--profile", help="the shared-config profile to use")
    cancel.add_argument("--endpoint-url", metavar="URL", help="send requests to this URL")
    cancel.add_argument("--max-attempts", type=int, metavar="N",
                        help="total attempts including retries (default 3)")  # fmt: skip
    cancel.add_argument(
        "--debug",
        action="store_true",
        help="log each attempt and retry decision to stderr (secrets redacted)",
    )
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command; return the exit code instead of raising."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
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
        return _cancel(args, out, err)
    except KeyboardInterrupt:
        print("", file=err)
        return EXIT_INTERRUPTED
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)


def _cancel(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._client import ImageBuilderClient
    from ._protocol import response_to_wire

    try:
        with ImageBuilderClient(
            region=args.region,
            profile=args.profile,
            endpoint_url=args.endpoint_url,
            max_attempts=args.max_attempts,
        ) as client:
            response = client.cancel_image_creation(
                args.image_build_version_arn, client_token=args.client_token
            )
    except ParamValidationError as exc:
        print(f"\nParameter validation failed:\n{exc}", file=err)
        return EXIT_USAGE
    except (ConfigurationError, NoCredentialsError, CredentialRetrievalError) as exc:
        print(f"\n{exc}", file=err)
        return EXIT_CONFIG
    except ServiceError as exc:
        print(f"\n{exc}", file=err)
        return EXIT_SERVICE
    except ImageBuilderError as exc:
        print(f"\n{type(exc).__name__}: {exc}", file=err)
        return EXIT_OTHER
    print(json.dumps(response_to_wire(response), indent=4), file=out)
    return EXIT_OK


def run() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())
