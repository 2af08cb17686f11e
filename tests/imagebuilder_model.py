"""botocore's Image Builder service model, for the tests that use it as an independent oracle.

The library never loads it; only tests do, to check the stand-in and the fixtures against
the service's own shapes. botocore 1.31 (our lowest bound) ships an older model, without
GetImage's ``latestVersionReferences``, so those tests skip there with this reason and run
on the matrix's newest legs and in ``make test``.
"""

from __future__ import annotations

from typing import Any

import botocore
import pytest
from botocore.loaders import create_loader


def imagebuilder_model() -> dict[str, Any]:
    """The model as botocore loads it (``service-2.json`` or ``.json.gz``, by version)."""
    model: dict[str, Any] = create_loader().load_service_model(
        "imagebuilder", "service-2", api_version="2019-12-02"
    )
    return model


def _model_is_current() -> bool:
    members = imagebuilder_model()["shapes"]["GetImageResponse"]["members"]
    return "latestVersionReferences" in members


needs_current_model = pytest.mark.skipif(
    not _model_is_current(),
    reason=f"botocore {botocore.__version__}'s Image Builder model predates GetImage's "
    "latestVersionReferences, which the stand-in and fixtures send",
)


def _lists_are_current() -> bool:
    paginators = create_loader().load_service_model(
        "imagebuilder", "paginators-1", api_version="2019-12-02"
    )["pagination"]
    request = imagebuilder_model()["shapes"]["ListImageBuildVersionsRequest"]
    return (
        {"ListImagePipelineImages", "ListImageBuildVersions"} <= set(paginators)
        and "imageVersionArn" not in request.get("required", [])
        and _model_is_current()
    )


needs_current_lists = pytest.mark.skipif(
    not _lists_are_current(),
    reason=f"botocore {botocore.__version__}'s Image Builder model predates the list "
    "operations' paginators and current request rules, which these checks drive",
)
