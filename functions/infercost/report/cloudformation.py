"""The recommendation as something to deploy: a CloudFormation template for the chosen serving mode.

`infercost recommend --emit cloudformation` prints it and the report shows it. Real-time endpoints
get Application Auto Scaling's scalable target and a target-tracking policy on
`SageMakerVariantInvocationsPerInstance`; serverless endpoints an endpoint config with their
memory, concurrency and provisioned concurrency; asynchronous endpoints an endpoint config with
scale-to-zero (target tracking on the backlog per instance, and a step policy on
`HasBacklogWithoutCapacity` to scale out from zero, as SageMaker's guide describes). The model
and endpoint themselves are the team's own: they are parameters here.
"""

from __future__ import annotations

from typing import Any

from infercost.domain.errors import InputError
from infercost.domain.results import RankedCandidate, Recommendation, ServingOption

VARIANT = "AllTraffic"


def template(recommendation: Recommendation) -> dict[str, Any]:
    """A CloudFormation template (JSON-ready) applying the recommended way to serve the model."""
    winner = recommendation.recommended
    option = recommendation.serving
    if winner is None or option is None:
        raise InputError(
            "nothing to emit: no candidate serves the traffic within the SLO under the monthly objective",
            field="--emit",
            hint="give a traffic profile (spec `traffic` or --traffic FILE) and a candidate that meets the SLO",
        )
    if option.mode in ("realtime", "multi-model"):
        resources = _autoscaling(option, winner)
    elif option.mode in ("serverless", "serverless-provisioned"):
        resources = _serverless(option, winner)
    elif option.mode == "async":
        resources = _async(option, winner)
    else:
        raise InputError(
            "batch transform jobs are not CloudFormation resources",
            field="--emit",
            hint=f"start one with CreateTransformJob on {winner.label} "
            f"({winner.candidate.instance_count} instance(s)); the JSON output has the figures",
        )
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"infercost: serve {recommendation.model} as {option.mode} on {winner.label} "
            f"(SLO {recommendation.slo.describe().replace('≤', '<=')})"
        )[:1024],
        "Parameters": _parameters(option),
        "Resources": resources,
    }


def _parameters(option: ServingOption) -> dict[str, Any]:
    if option.mode in ("serverless", "serverless-provisioned", "async"):
        parameters: dict[str, Any] = {
            "ModelName": {"Type": "String", "Description": "the SageMaker model to serve"},
        }
        if option.mode == "async":
            parameters["EndpointName"] = {"Type": "String", "Description": "the endpoint using this config"}
            parameters["OutputPath"] = {"Type": "String", "Description": "s3:// prefix for the async results"}
        return parameters
    return {
        "EndpointName": {"Type": "String", "Description": "the existing endpoint to scale"},
        "VariantName": {"Type": "String", "Default": VARIANT},
    }


def _scalable_target(min_capacity: int, max_capacity: int, endpoint: str, variant: str) -> dict[str, Any]:
    return {
        "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
        "Properties": {
            "ServiceNamespace": "sagemaker",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "ResourceId": {"Fn::Sub": f"endpoint/${{{endpoint}}}/variant/{variant}"},
            "MinCapacity": min_capacity,
            "MaxCapacity": max_capacity,
        },
    }


def _autoscaling(option: ServingOption, winner: RankedCandidate) -> dict[str, Any]:
    policy = option.policy
    assert policy is not None
    target = _scalable_target(policy.min_capacity, policy.max_capacity, "EndpointName", "${VariantName}")
    return {
        "ScalableTarget": target,
        "TargetTrackingPolicy": {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": "infercost-invocations-per-instance",
                "PolicyType": "TargetTrackingScaling",
                "ScalingTargetId": {"Ref": "ScalableTarget"},
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": policy.target_invocations_per_instance_per_minute,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                    },
                    "ScaleInCooldown": policy.scale_in_cooldown_s,
                    "ScaleOutCooldown": policy.scale_out_cooldown_s,
                },
            },
        },
    }


def _serverless(option: ServingOption, winner: RankedCandidate) -> dict[str, Any]:
    config = winner.candidate.serverless
    assert config is not None
    serverless: dict[str, Any] = {
        "MemorySizeInMB": config.memory_mb,
        "MaxConcurrency": config.max_concurrency,
    }
    if option.provisioned_concurrency:
        serverless["ProvisionedConcurrency"] = option.provisioned_concurrency
    return {
        "EndpointConfig": {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {
                "ProductionVariants": [
                    {
                        "ModelName": {"Ref": "ModelName"},
                        "VariantName": VARIANT,
                        "ServerlessConfig": serverless,
                    }
                ]
            },
        }
    }


def _async(option: ServingOption, winner: RankedCandidate) -> dict[str, Any]:
    policy = option.policy
    assert policy is not None and winner.candidate.instance_type is not None
    variant: dict[str, Any] = {
        "ModelName": {"Ref": "ModelName"},
        "VariantName": VARIANT,
        "InstanceType": winner.candidate.instance_type,
        "InitialInstanceCount": 1,
    }
    backlog = {
        "MetricName": "ApproximateBacklogSizePerInstance",
        "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "EndpointName", "Value": {"Ref": "EndpointName"}}],
        "Statistic": "Average",
    }
    return {
        "EndpointConfig": {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {
                "ProductionVariants": [variant],
                "AsyncInferenceConfig": {"OutputConfig": {"S3OutputPath": {"Ref": "OutputPath"}}},
            },
        },
        "ScalableTarget": _scalable_target(0, max(1, policy.max_capacity), "EndpointName", VARIANT),
        "BacklogPolicy": {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": "infercost-backlog-per-instance",
                "PolicyType": "TargetTrackingScaling",
                "ScalingTargetId": {"Ref": "ScalableTarget"},
                "TargetTrackingScalingPolicyConfiguration": {
                    # A backlog of about one minute of work per instance.
                    "TargetValue": max(1.0, policy.target_invocations_per_instance_per_minute),
                    "CustomizedMetricSpecification": backlog,
                    "ScaleInCooldown": policy.scale_in_cooldown_s,
                    "ScaleOutCooldown": policy.scale_out_cooldown_s,
                },
            },
        },
        "ScaleOutFromZeroPolicy": {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": "infercost-scale-out-from-zero",
                "PolicyType": "StepScaling",
                "ScalingTargetId": {"Ref": "ScalableTarget"},
                "StepScalingPolicyConfiguration": {
                    "AdjustmentType": "ChangeInCapacity",
                    "MetricAggregationType": "Average",
                    "Cooldown": policy.scale_out_cooldown_s,
                    "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
                },
            },
        },
        "BacklogWithoutCapacityAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": "requests waiting while the endpoint has no instance",
                "MetricName": "HasBacklogWithoutCapacity",
                "Namespace": "AWS/SageMaker",
                "Dimensions": [{"Name": "EndpointName", "Value": {"Ref": "EndpointName"}}],
                "Statistic": "Average",
                "Period": 60,
                "EvaluationPeriods": 2,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "missing",
                "AlarmActions": [{"Ref": "ScaleOutFromZeroPolicy"}],
            },
        },
    }
