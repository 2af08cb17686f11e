"""The images LocalImageBuilder holds, and the ``image`` and ``ImageSummary`` objects it serves.

The ARN patterns and statuses are written from the service model
(imagebuilder 2019-12-02), not imported from the client library: the stand-in
checks the client rather than agreeing with it by construction.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Iterable, Mapping

import attrs

NON_TERMINAL = frozenset(
    {"PENDING", "CREATING", "BUILDING", "TESTING", "DISTRIBUTING", "INTEGRATING"}
)
TERMINAL = frozenset({"AVAILABLE", "CANCELLED", "FAILED", "DEPRECATED", "DELETED", "DISABLED"})
STATUSES = NON_TERMINAL | TERMINAL
#: Statuses in which an image has its AMI (it was built and distributed).
_HAS_OUTPUT = frozenset({"AVAILABLE", "DEPRECATED", "DISABLED"})

# From the service model (imagebuilder 2019-12-02), written out here on purpose.
# ImageBuildVersionArn (CancelImageCreation, and what add_image holds):
BUILD_VERSION_ARN = re.compile(
    r"arn:(?P<partition>aws[^:]*):imagebuilder:(?P<region>[^:]+):"
    r"(?P<account>[0-9]{12}|aws(?:-[a-z-]+)?):image/(?P<name>[a-z0-9_-]+)/"
    r"(?P<major>[0-9]+)\.(?P<minor>[0-9]+)\.(?P<patch>[0-9]+)/(?P<build>[0-9]+)"
)
# The version half of ImageVersionArnOrBuildVersionArn (GetImage):
VERSION_ARN = re.compile(
    r"arn:(?P<partition>aws[^:]*):imagebuilder:(?P<region>[^:]+):"
    r"(?P<account>[0-9]{12}|aws(?:-[a-z-]+)?):image/(?P<name>[a-z0-9_-]+)/"
    r"(?P<major>[0-9]+|x)\.(?P<minor>[0-9]+|x)\.(?P<patch>[0-9]+|x)"
)
# ImageVersionArn (ListImageBuildVersions): an exact version, no wildcard, no build.
EXACT_VERSION_ARN = re.compile(
    r"arn:(?P<partition>aws[^:]*):imagebuilder:(?P<region>[^:]+):"
    r"(?P<account>[0-9]{12}|aws(?:-[a-z-]+)?):image/(?P<name>[a-z0-9_-]+)/"
    r"(?P<major>[0-9]+)\.(?P<minor>[0-9]+)\.(?P<patch>[0-9]+)"
)
# ImagePipelineArn (ListImagePipelineImages):
PIPELINE_ARN = re.compile(
    r"arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws):image-pipeline/[a-z0-9_-]+"
)


@attrs.define
class Image:
    """One image build version the stand-in holds."""

    arn: str
    parts: Mapping[str, str]
    status: str
    reason: str | None
    created: datetime.datetime
    cancel_delay: float
    tags: Mapping[str, str]
    pipeline_arn: str | None = None
    cancel_at: float | None = None

    @property
    def version_key(self) -> tuple[int, int, int, int]:
        p = self.parts
        return int(p["major"]), int(p["minor"]), int(p["patch"]), int(p["build"])

    @property
    def semantic_version(self) -> str:
        p = self.parts
        return f"{p['major']}.{p['minor']}.{p['patch']}"

    @property
    def family(self) -> tuple[str, str, str, str]:
        p = self.parts
        return p["partition"], p["region"], p["account"], p["name"]

    def settle(self, now: float) -> None:
        # A pending cancel lands once its delay has passed.
        if self.cancel_at is not None and now >= self.cancel_at:
            self.status, self.reason, self.cancel_at = "CANCELLED", None, None


def timestamp(when: datetime.datetime) -> str:
    # The service's DateTime strings: ISO 8601, milliseconds, "Z".
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def image_json(image: Image) -> dict[str, object]:
    """The ``image`` object of a GetImage reply, in the service model's shape."""
    p = image.parts
    prefix = f"arn:{p['partition']}:imagebuilder:{p['region']}"
    version = f"{p['major']}.{p['minor']}.{p['patch']}"
    created = timestamp(image.created)
    state: dict[str, object] = {"status": image.status}
    if image.reason is not None:
        state["reason"] = image.reason
    output: dict[str, object] = {}
    if image.status in _HAS_OUTPUT:
        ami_id = "ami-" + hashlib.sha256(image.arn.encode()).hexdigest()[:17]
        output["amis"] = [
            {
                "region": p["region"],
                "image": ami_id,
                "name": f"{p['name']} {image.created.strftime('%Y-%m-%dT%H-%M-%S')}.000Z",
                "description": f"{p['name']} {version}",
                "state": {"status": "AVAILABLE"},
                "accountId": p["account"],
            }
        ]
    out: dict[str, object] = {
        "arn": image.arn,
        "name": p["name"],
        "type": "AMI",
        "version": f"{version}/{p['build']}",
        "platform": "Linux",
        "enhancedImageMetadataEnabled": True,
        "osVersion": "Amazon Linux 2023",
        "state": state,
        "imageRecipe": {
            "arn": f"{prefix}:{p['account']}:image-recipe/{p['name']}/{version}",
            "type": "AMI",
            "name": p["name"],
            "platform": "Linux",
            "owner": p["account"],
            "version": version,
            "components": [
                {"componentArn": f"{prefix}:aws:component/update-linux/1.0.2/1"},
            ],
            "parentImage": f"{prefix}:aws:image/amazon-linux-2023-x86/x.x.x",
            "dateCreated": created,
        },
        "infrastructureConfiguration": {
            "arn": f"{prefix}:{p['account']}:infrastructure-configuration/{p['name']}-infra",
            "name": f"{p['name']}-infra",
            "instanceTypes": ["m5.large"],
            "instanceProfileName": "EC2InstanceProfileForImageBuilder",
            "terminateInstanceOnFailure": True,
            "dateCreated": created,
        },
        "imageTestsConfiguration": {"imageTestsEnabled": True, "timeoutMinutes": 720},
        "imageScanningConfiguration": {"imageScanningEnabled": False},
        "dateCreated": created,
        "outputResources": output,
        "buildType": "USER_INITIATED",
        "imageSource": "CUSTOM",
        "workflows": [
            {"workflowArn": f"{prefix}:aws:workflow/build/build-image/1.0.3/1"},
            {"workflowArn": f"{prefix}:aws:workflow/test/test-image/1.0.2/1"},
        ],
    }
    if image.tags:
        out["tags"] = dict(image.tags)
    return out


#: The ImageSummary members the stand-in knows, in the model's order.
_SUMMARY_MEMBERS = (
    "arn", "name", "type", "version", "platform", "osVersion", "state", "owner",
    "dateCreated", "outputResources", "tags", "buildType", "imageSource",
)  # fmt: skip


def summary_json(image: Image) -> dict[str, object]:
    """The ``ImageSummary`` of a list reply: the values GetImage gives, plus ``owner``."""
    full = image_json(image)
    full["owner"] = image.parts["account"]
    return {key: full[key] for key in _SUMMARY_MEMBERS if key in full}


def latest(images: Iterable[Image], wanted: Mapping[str, str]) -> Image | None:
    """The latest build version among ``images`` matching a version ARN's parts (``x``: any)."""
    family = (wanted["partition"], wanted["region"], wanted["account"], wanted["name"])
    matches = [
        image
        for image in images
        if image.family == family
        and all(wanted[k] in ("x", image.parts[k]) for k in ("major", "minor", "patch"))
    ]
    return max(matches, key=lambda image: image.version_key, default=None)


def latest_references(images: Iterable[Image], image: Image) -> dict[str, str]:
    """GetImage's ``latestVersionReferences`` for ``image`` among ``images``."""
    images = list(images)
    # The latest build version overall, and within the same major,
    # major.minor, and major.minor.patch, among the images held.
    p = image.parts
    refs = {}
    for key, pins in (
        ("latestVersionArn", (False, False, False)),
        ("latestMajorVersionArn", (True, False, False)),
        ("latestMinorVersionArn", (True, True, False)),
        ("latestPatchVersionArn", (True, True, True)),
    ):
        wanted = dict(p)
        for name, pinned in zip(("major", "minor", "patch"), pins, strict=True):
            wanted[name] = p[name] if pinned else "x"
        found = latest(images, wanted)
        if found is not None:
            refs[key] = found.arn
    return refs
