"""The order in which the AWS CLI prints a reply's members: the service model's.

botocore parses a reply member by member in the order of the model's shapes,
so ``aws imagebuilder get-image`` prints ``image`` as ``arn, type, name, ...``
whatever order the service sent. The command does the same from this table,
which holds, for every structure the commands print, its members in the
model's order; ``name:Shape`` marks a member that holds that structure (or a
list of them). botocore's model is not loaded at run time (it would cost the
command its cold start); ``tests/test_output.py`` checks this table against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

#: Structure shape -> its members in the model's order (``member:Shape`` for nested ones).
_SHAPES: Mapping[str, str] = {
    "CancelImageCreationResponse": "requestId clientToken imageBuildVersionArn",
    "GetImageResponse": "requestId image:Image latestVersionReferences:LatestVersionReferences",
    "Image": (
        "arn type name version platform enhancedImageMetadataEnabled osVersion state:ImageState "
        "imageRecipe:ImageRecipe containerRecipe:ContainerRecipe sourcePipelineName "
        "sourcePipelineArn infrastructureConfiguration:InfrastructureConfiguration "
        "distributionConfiguration:DistributionConfiguration "
        "imageTestsConfiguration:ImageTestsConfiguration dateCreated "
        "outputResources:OutputResources tags buildType imageSource scanState:ImageScanState "
        "imageScanningConfiguration:ImageScanningConfiguration deprecationTime "
        "lifecycleExecutionId "
        "executionRole workflows:WorkflowConfiguration "
        "loggingConfiguration:ImageLoggingConfiguration"
    ),
    "ImageState": "status reason failureContext:ImageFailureContext",
    "ImageFailureContext": (
        "imageStatus workflowExecutionId workflowArn stepExecutionId failedStep "
        "componentFailure:ComponentFailureContext distributionFailure:DistributionFailureContext"
    ),
    "ComponentFailureContext": "componentArn phaseName stepName action errorMessage",
    "DistributionFailureContext": "errorMessage regionFailures:RegionFailure",
    "RegionFailure": "region status imageConfigurationStep errorMessage targetAccountId",
    "ImageRecipe": (
        "arn type name description platform owner version components:ComponentConfiguration "
        "parentImage blockDeviceMappings:InstanceBlockDeviceMapping dateCreated tags "
        "workingDirectory additionalInstanceConfiguration:AdditionalInstanceConfiguration amiTags "
        "amiWatermarks"
    ),
    "ComponentConfiguration": "componentArn parameters:ComponentParameter",
    "ComponentParameter": "name value",
    "InstanceBlockDeviceMapping": (
        "deviceName ebs:EbsInstanceBlockDeviceSpecification virtualName noDevice"
    ),
    "EbsInstanceBlockDeviceSpecification": (
        "encrypted deleteOnTermination iops kmsKeyId snapshotId volumeSize volumeType throughput"
    ),
    "AdditionalInstanceConfiguration": "systemsManagerAgent:SystemsManagerAgent userDataOverride",
    "SystemsManagerAgent": "uninstallAfterBuild",
    "ContainerRecipe": (
        "arn containerType name description platform owner version "
        "components:ComponentConfiguration instanceConfiguration:InstanceConfiguration "
        "dockerfileTemplateData kmsKeyId encrypted parentImage dateCreated tags workingDirectory "
        "targetRepository:TargetContainerRepository"
    ),
    "InstanceConfiguration": "image blockDeviceMappings:InstanceBlockDeviceMapping",
    "TargetContainerRepository": "service repositoryName",
    "InfrastructureConfiguration": (
        "arn name description instanceTypes instanceProfileName securityGroupIds subnetId "
        "logging:Logging keyPair terminateInstanceOnFailure snsTopicArn dateCreated dateUpdated "
        "resourceTags instanceMetadataOptions:InstanceMetadataOptions tags placement:Placement "
        "terminateInstanceOnCompletion parentInstance:ParentInstanceConfiguration"
    ),
    "Logging": "s3Logs:S3Logs",
    "S3Logs": "s3BucketName s3KeyPrefix",
    "InstanceMetadataOptions": "httpTokens httpPutResponseHopLimit",
    "Placement": "availabilityZone tenancy hostId hostResourceGroupArn",
    "ParentInstanceConfiguration": "autoScalingGroup:AutoScalingGroupConfiguration",
    "AutoScalingGroupConfiguration": "name capacityWaitTimeoutSeconds",
    "DistributionConfiguration": (
        "arn name description distributions:Distribution timeoutMinutes dateCreated dateUpdated "
        "tags"
    ),
    "Distribution": (
        "region amiDistributionConfiguration:AmiDistributionConfiguration "
        "containerDistributionConfiguration:ContainerDistributionConfiguration "
        "licenseConfigurationArns launchTemplateConfigurations:LaunchTemplateConfiguration "
        "s3ExportConfiguration:S3ExportConfiguration "
        "fastLaunchConfigurations:FastLaunchConfiguration "
        "ssmParameterConfigurations:SsmParameterConfiguration"
    ),
    "AmiDistributionConfiguration": (
        "name description targetAccountIds amiTags kmsKeyId "
        "launchPermission:LaunchPermissionConfiguration"
    ),
    "LaunchPermissionConfiguration": "userIds userGroups organizationArns organizationalUnitArns",
    "ContainerDistributionConfiguration": (
        "description containerTags targetRepository:TargetContainerRepository"
    ),
    "LaunchTemplateConfiguration": "launchTemplateId accountId setDefaultVersion",
    "S3ExportConfiguration": "roleName diskImageFormat s3Bucket s3Prefix",
    "FastLaunchConfiguration": (
        "enabled snapshotConfiguration:FastLaunchSnapshotConfiguration maxParallelLaunches "
        "launchTemplate:FastLaunchLaunchTemplateSpecification accountId"
    ),
    "FastLaunchSnapshotConfiguration": "targetResourceCount",
    "FastLaunchLaunchTemplateSpecification": (
        "launchTemplateId launchTemplateName launchTemplateVersion"
    ),
    "SsmParameterConfiguration": "amiAccountId parameterName dataType",
    "ImageTestsConfiguration": "imageTestsEnabled timeoutMinutes",
    "OutputResources": "amis:Ami containers:Container",
    "Ami": "region image name description state:ImageState accountId",
    "Container": "region imageUris",
    "ImageScanState": "status reason",
    "ImageScanningConfiguration": (
        "imageScanningEnabled ecrConfiguration:EcrConfiguration imageScanningTypes "
        "scanResultCondition:ScanResultCondition"
    ),
    "EcrConfiguration": "repositoryName containerTags",
    "ScanResultCondition": "maximumSeverityLabel fixAvailable",
    "WorkflowConfiguration": "workflowArn parameters:WorkflowParameter parallelGroup onFailure",
    "WorkflowParameter": "name value",
    "ImageLoggingConfiguration": "logGroupName",
    "LatestVersionReferences": (
        "latestVersionArn latestMajorVersionArn latestMinorVersionArn latestPatchVersionArn"
    ),
    "ListImageBuildVersionsResponse": "requestId imageSummaryList:ImageSummary nextToken",
    "ImageSummary": (
        "arn name type version platform osVersion state:ImageState owner dateCreated "
        "outputResources:OutputResources tags buildType imageSource deprecationTime "
        "lifecycleExecutionId loggingConfiguration:ImageLoggingConfiguration"
    ),
    "ListImagePipelineImagesResponse": "requestId imageSummaryList:ImageSummary nextToken",
}


@cache
def shape_members(shape: str) -> tuple[tuple[str, str | None], ...]:
    """The shape's members in model order, each with the structure it holds (or None).

    Example:
        >>> shape_members("ImageState")
        (('status', None), ('reason', None), ('failureContext', 'ImageFailureContext'))
    """
    members = []
    for word in _SHAPES[shape].split():
        name, _, nested = word.partition(":")
        members.append((name, nested or None))
    return tuple(members)


def known_shapes() -> frozenset[str]:
    """Every shape in the table."""
    return frozenset(_SHAPES)


def in_model_order(data: Any, shape: str) -> Any:
    """``data`` with each object's members in ``shape``'s model order, nested ones too.

    Members the model does not know (a newer service's) follow the known ones
    in the order received; lists keep their order; ``data`` is not changed.

    Example:
        >>> in_model_order({"reason": "r", "extra": 1, "status": "FAILED"}, "ImageState")
        {'status': 'FAILED', 'reason': 'r', 'extra': 1}
    """
    if isinstance(data, list):
        return [in_model_order(item, shape) for item in data]
    if not isinstance(data, dict):
        return data
    ordered: dict[str, Any] = {}
    for name, nested in shape_members(shape):
        if name in data:
            value = data[name]
            ordered[name] = value if nested is None else in_model_order(value, nested)
    for name, value in data.items():
        if name not in ordered:
            ordered[name] = value
    return ordered
