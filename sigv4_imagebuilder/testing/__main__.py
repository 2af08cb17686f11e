"""``python -m sigv4_imagebuilder.testing``: run the local stand-in, or the demo.

- ``serve --port N --image ARN[=STATUS] ... [--cancel-delay S] [--pipeline ARN]``
  serves until Ctrl-C (with ``--pipeline``, the images are that pipeline's, so
  ListImagePipelineImages lists them);
- ``demo`` starts the stand-in with one image in BUILDING, cancels it with the
  command line, prints the JSON and the image's new status, and stops.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Sequence

from .._credentials import Credentials
from ._images import STATUSES
from ._local import DEFAULT_CREDENTIALS, LocalImageBuilder

DEMO_ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/demo-recipe/1.0.0/1"


def _image(value: str) -> tuple[str, str]:
    arn, _, status = value.partition("=")
    status = status or "BUILDING"
    if status not in STATUSES:
        raise argparse.ArgumentTypeError(
            f"unknown status {status!r}; one of {', '.join(sorted(STATUSES))}"
        )
    return arn, status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sigv4_imagebuilder.testing")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run LocalImageBuilder until Ctrl-C")
    serve.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)"
    )
    serve.add_argument(
        "--image",
        type=_image,
        action="append",
        default=[],
        metavar="ARN[=STATUS]",
        help="an image to hold (repeatable); status defaults to BUILDING",
    )
    serve.add_argument(
        "--cancel-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds an accepted cancel takes before the image reports CANCELLED (default 0)",
    )
    serve.add_argument(
        "--pipeline",
        default=None,
        metavar="ARN",
        help="the image pipeline the --image images belong to (default: none)",
    )
    serve.add_argument("--region", default=None, help="only accept requests signed for this region")
    serve.add_argument("--access-key-id", default=DEFAULT_CREDENTIALS.access_key_id)
    serve.add_argument("--secret-access-key", default=DEFAULT_CREDENTIALS.secret_access_key)
    commands.add_parser("demo", help="cancel a build on the stand-in with the command line")
    return parser


def _client_env(creds: Credentials) -> dict[str, str]:
    # The demo must not depend on (or touch) the user's AWS setup.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=creds.access_key_id,
        AWS_SECRET_ACCESS_KEY=creds.secret_access_key,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


#: How long the demo's cancel takes to finish, seconds.
DEMO_CANCEL_DELAY = 2.0


def demo() -> int:
    """The ``make demo`` job."""
    creds = DEFAULT_CREDENTIALS
    with LocalImageBuilder(creds, region="us-east-1") as server:
        # As in the service, the cancel takes a moment to finish.
        server.add_image(DEMO_ARN, "BUILDING", cancel_delay=DEMO_CANCEL_DELAY)
        print(
            f"LocalImageBuilder listening on {server.endpoint_url} (checks every SigV4 signature)"
        )
        print(f"Image {DEMO_ARN}: {server.image_status(DEMO_ARN)}")
        command = [
            "sigv4-imagebuilder", "cancel-image-creation",
            "--image-build-version-arn", DEMO_ARN,
            "--region", "us-east-1",
            "--endpoint-url", server.endpoint_url,
            "--wait", "--min-delay", "0.5", "--max-delay", "1",
        ]  # fmt: skip
        print("$ " + " ".join(command), flush=True)
        completed = subprocess.run(  # the CLI, as a person would run it
            [sys.executable, "-m", "sigv4_imagebuilder", *command[1:]],
            env=_client_env(creds),
            check=False,
        )
        print(f"Exit code: {completed.returncode}")
        print(f"Image {DEMO_ARN}: {server.image_status(DEMO_ARN)}")
    print("LocalImageBuilder stopped.")
    print("Against AWS, drop --endpoint-url: credentials and region come from your AWS setup.")
    return completed.returncode


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m sigv4_imagebuilder.testing``."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        return demo()
    creds = Credentials(args.access_key_id, args.secret_access_key)
    server = LocalImageBuilder(creds, region=args.region, port=args.port)
    try:
        if args.pipeline is not None:
            server.add_pipeline(args.pipeline)
        for arn, status in args.image:
            server.add_image(
                arn, status, cancel_delay=args.cancel_delay, pipeline_arn=args.pipeline
            )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with server:
        print(f"LocalImageBuilder listening on {server.endpoint_url}", flush=True)
        print(f"Sign with AWS_ACCESS_KEY_ID={creds.access_key_id} "
              f"AWS_SECRET_ACCESS_KEY={creds.secret_access_key}", flush=True)  # fmt: skip
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
