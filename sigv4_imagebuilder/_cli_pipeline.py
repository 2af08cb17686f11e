"""``cancel-pipeline-builds``, a command of this tool's own: cancel a pipeline's unfinished builds.

stdout gets one JSON document (:func:`result_document`); stderr the progress
(``_cli_progress``). Exit 0 when every image ended cancelled or had already
finished, 254 when any failed, 130 on Ctrl-C (the cancels sent stay sent).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ._cli_context import make_client, printing, terminal_width
from ._cli_progress import error_text, open_progress
from ._output import render

if TYPE_CHECKING:
    from ._models import BuildCancelOutcome

#: The result document's counts: (outcome, key).
_COUNTS = (
    ("cancelled", "cancelled"),
    ("already_finished", "alreadyFinished"),
    ("failed", "failed"),
)
EXIT_FAILED = 254


def result_document(outcomes: Sequence[BuildCancelOutcome]) -> dict[str, Any]:
    """The command's stdout: every image's outcome, then the counts.

    Example:
        >>> from sigv4_imagebuilder import BuildCancelOutcome
        >>> done = BuildCancelOutcome(image_build_version_arn="arn-1", outcome="cancelled",
        ...                           status="CANCELLED")
        >>> result_document([done])
        {'outcomes': [{'imageBuildVersionArn': 'arn-1', 'outcome': 'cancelled', \
'status': 'CANCELLED', 'error': None}], 'cancelled': 1, 'alreadyFinished': 0, 'failed': 0}
    """
    document: dict[str, Any] = {
        "outcomes": [
            {
                "imageBuildVersionArn": o.image_build_version_arn,
                "outcome": o.outcome,
                "status": o.status,
                "error": error_text(o.error),
            }
            for o in outcomes
        ]
    }
    for outcome, key in _COUNTS:
        document[key] = sum(1 for o in outcomes if o.outcome == outcome)
    return document


def cancel_pipeline_builds(
    args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO
) -> int:
    """Run the command: list, cancel (with ``--wait``, wait), show progress, print the result."""
    output, query = printing(args, env)
    progress = open_progress(err)
    with make_client(args, env) as client:
        try:
            outcomes = client.cancel_pipeline_builds(
                args.image_pipeline_arn,
                wait=args.wait,
                max_concurrency=args.max_concurrency,
                on_progress=progress,
            )
        except KeyboardInterrupt:
            progress.interrupted()
            raise
        finally:
            progress.stop()
    progress.close()
    document = result_document(outcomes)
    title, width = "CancelPipelineBuilds", terminal_width(out)
    out.write(render(document, output, query, title=title, width=width))
    out.flush()
    return EXIT_FAILED if document["failed"] else 0
