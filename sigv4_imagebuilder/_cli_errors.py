"""What the command prints when a command fails, and the exit code, as the AWS CLI's.

A service error reads as botocore's ``ClientError`` (``... when calling the
GetImage operation (reached max retries: 2): Rate exceeded``); a request
that never got a reply names the URL it was sent to, in botocore's words
(``Could not connect to the endpoint URL: "https://..."``), and a host name
that did not resolve is named on a second line, since it is usually a
mistyped region.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import TextIO

from ._cli_pages import PaginationArgumentError
from ._cli_shorthand import FiltersError
from ._errors import (
    ConfigurationError,
    ConnectError,
    ConnectionClosedError,
    CredentialRetrievalError,
    ImageBuilderError,
    NoCredentialsError,
    ParamValidationError,
    ServiceError,
    TransportError,
    TransportTimeoutError,
    WaiterError,
    chain_of,
)
from ._output import OutputError, QueryError
from ._text import printable

EXIT_USAGE = 252
EXIT_CONFIG = 253
EXIT_SERVICE = 254
EXIT_OTHER = 255


def _retries(error: ImageBuilderError) -> str:
    # botocore adds this when the call used all its attempts; we add it only
    # where retries were made (one attempt that failed is not "max retries").
    if error.max_attempts_reached and error.retry_attempts:
        return f" (reached max retries: {error.retry_attempts})"
    return ""


def service_error_text(error: ServiceError) -> str:
    """botocore's ``ClientError`` message, with its ``(reached max retries: N)``.

    Example:
        >>> from sigv4_imagebuilder import ServiceError
        >>> e = ServiceError(code="ThrottlingException", message="Rate exceeded",
        ...                  status_code=400, retry_attempts=4, operation_name="GetImage")
        >>> e.max_attempts_reached = True
        >>> print(service_error_text(e))  # doctest: +NORMALIZE_WHITESPACE
        An error occurred (ThrottlingException) when calling the GetImage operation
        (reached max retries: 4): Rate exceeded
    """
    retries = _retries(error)
    if not retries or error.operation_name is None:
        return str(error)
    return (
        f"An error occurred ({error.code}) when calling the {error.operation_name} "
        f"operation{retries}: {error.message}"
    )


def _request_url(error: TransportError) -> str | None:
    import httpx

    for cause in chain_of(error):
        if isinstance(cause, httpx.RequestError):
            try:
                return printable(str(cause.request.url), 2000)
            except RuntimeError:  # an httpx error raised without its request
                return None
    return None


def transport_error_text(error: TransportError) -> str:
    """The endpoint URL that did not answer, in botocore's words; the host if it did not resolve."""
    import httpx

    url = _request_url(error)
    if url is None:
        return f"{type(error).__name__}: {error}{_retries(error)}"
    cause = error.__cause__
    if isinstance(cause, httpx.ConnectTimeout):
        text = f'Connect timeout on endpoint URL: "{url}"'
    elif isinstance(cause, httpx.ReadTimeout):
        text = f'Read timeout on endpoint URL: "{url}"'
    elif isinstance(error, TransportTimeoutError):
        text = f'{error} on endpoint URL: "{url}"'
    elif isinstance(error, ConnectError):
        text = f'Could not connect to the endpoint URL: "{url}"'
    elif isinstance(error, ConnectionClosedError):
        text = (
            f'Connection was closed before we received a valid response from endpoint URL: "{url}".'
        )
    else:
        text = f'{error} (endpoint URL: "{url}")'
    text += _retries(error)
    unresolved = next((c for c in chain_of(error) if isinstance(c, socket.gaierror)), None)
    if unresolved is not None:
        host = printable(httpx.URL(url).host, 300)
        reason = printable(str(unresolved.strerror or unresolved), 100)
        text += (
            f"\nThe host name {host} did not resolve ({reason}): check the region "
            "and the endpoint URL."
        )
    return text


def exit_code(run: Callable[[], int], err: TextIO) -> int:
    """Run a command; print any failure as the AWS CLI does and return its exit code."""
    try:
        return run()
    except QueryError as exc:  # the call was made; only printing its reply failed
        print(f"\n{exc}", file=err)
        return EXIT_OTHER
    except OutputError as exc:
        print(f"\n{exc}", file=err)
        return EXIT_USAGE
    except FiltersError as exc:
        print(f"\nError parsing parameter '--filters': {exc}", file=err)
        return EXIT_USAGE
    except PaginationArgumentError as exc:
        print(f"\n{exc}", file=err)
        return EXIT_USAGE
    except ParamValidationError as exc:
        print(f"\nParameter validation failed:\n{exc}", file=err)
        return EXIT_USAGE
    except (ConfigurationError, NoCredentialsError, CredentialRetrievalError) as exc:
        print(f"\n{exc}", file=err)
        return EXIT_CONFIG
    except ServiceError as exc:
        print(f"\n{service_error_text(exc)}", file=err)
        return EXIT_SERVICE
    except WaiterError as exc:
        print(f"\n{exc}", file=err)
        return EXIT_OTHER
    except TransportError as exc:
        print(f"\n{transport_error_text(exc)}", file=err)
        return EXIT_OTHER
    except ImageBuilderError as exc:
        print(f"\n{type(exc).__name__}: {exc}", file=err)
        return EXIT_OTHER
    except Exception as exc:  # a bug of ours: one line and the documented code, no traceback
        logging.getLogger("sigv4_imagebuilder").debug("unexpected error", exc_info=True)
        name = type(exc).__name__
        print(f"\nsigv4-imagebuilder: unexpected {name}; rerun with --debug", file=err)
        return EXIT_OTHER
