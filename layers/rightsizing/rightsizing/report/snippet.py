"""A CloudFormation/SAM snippet for the recommended endpoint and its scaling policy, ready to paste."""

from __future__ import annotations

import json

from rightsizing.models.result import Recommendation, RunResult

VARIANT = "AllTraffic"


def _q(value: object) -> str:
    """A YAML scalar that is always read back as written (JSON strings are valid YAML)."""
    return json.dumps(value)


def _capacity(rec: Recommendation) -> list[str]:
    """An instance fleet, or a serverless endpoint's memory and concurrency (no instance type or count)."""
    if rec.serverless is not None:
        return [
            "          ServerlessConfig:",
            f"            MemorySizeInMB: {rec.serverless.memory_mb}",
            f"            MaxConcurrency: {rec.serverless.max_concurrency}",
        ]
    return [f"          InstanceType: {_q(rec.instance_type)}", f"          InitialInstanceCount: {rec.instance_count}"]


def endpoint_snippet(run: RunResult) -> str:
    """YAML for AWS::SageMaker::EndpointConfig + Endpoint + Application Auto Scaling target and policy."""
    rec = run.recommendation
    if rec is None:
        return f"# Run {run.run_id}: no recommendation, so nothing to deploy.\n# {run.no_recommendation_reason}\n"
    auto = rec.autoscaling
    lines = [
        f"# Rightsizing run {run.run_id}: {rec.instance_count} x {rec.instance_type} serves "
        f"{run.traffic.sizing_rps:g} RPS at {run.sla.percentile} <= {run.sla.milliseconds:g} ms",
        f"# for ${rec.usd_per_hour:.4f}/h ({rec.price_source}).",
        "# Paste into a CloudFormation or SAM template; ModelName is your AWS::SageMaker::Model.",
    ]
    if run.mode == "local":
        lines.append(f"# LOCAL MODE: {rec.instance_type} is a local profile, not an AWS instance type; shape only.")
    if rec.environment:
        lines.append(f"# Benchmarked with container environment {json.dumps(rec.environment)}: set it on the model.")
    lines += [
        "Parameters:",
        "  ModelName:",
        "    Type: String",
        "  EndpointName:",
        "    Type: String",
        f"    Default: {_q(run.run_id[:40].rstrip('-') + '-rightsized')}",
        "Resources:",
        "  RightsizedEndpointConfig:",
        "    Type: AWS::SageMaker::EndpointConfig",
        "    Properties:",
        "      ProductionVariants:",
        f"        - VariantName: {VARIANT}",
        "          ModelName: !Ref ModelName",
        *_capacity(rec),
        "          InitialVariantWeight: 1.0",
        "  RightsizedEndpoint:",
        "    Type: AWS::SageMaker::Endpoint",
        "    Properties:",
        "      EndpointName: !Ref EndpointName",
        "      EndpointConfigName: !GetAtt RightsizedEndpointConfig.EndpointConfigName",
    ]
    if auto is not None:
        lines += _scaling(
            auto.min_instance_count, auto.max_instance_count, auto.invocations_per_instance_target, auto.safety_factor
        )
    return "\n".join(lines) + "\n"


def _scaling(low: int, high: int, target: float, safety: float) -> list[str]:
    # RoleARN is omitted: Application Auto Scaling then uses its SageMaker service-linked role.
    fixed = ["      # One fixed target: raise MaxCapacity for bursts, or give traffic.max_rps for a range."]
    fixed = fixed if low == high else []
    return [
        "  RightsizedScalableTarget:",
        "    Type: AWS::ApplicationAutoScaling::ScalableTarget",
        "    DependsOn: RightsizedEndpoint",
        "    Properties:",
        "      ServiceNamespace: sagemaker",
        "      ScalableDimension: sagemaker:variant:DesiredInstanceCount",
        f"      ResourceId: !Sub endpoint/${{EndpointName}}/variant/{VARIANT}",
        f"      MinCapacity: {low}",
        f"      MaxCapacity: {high}",
        *fixed,
        "  RightsizedScalingPolicy:",
        "    Type: AWS::ApplicationAutoScaling::ScalingPolicy",
        "    Properties:",
        "      PolicyName: !Sub ${EndpointName}-invocations-per-instance",
        "      PolicyType: TargetTrackingScaling",
        "      ScalingTargetId: !Ref RightsizedScalableTarget",
        "      TargetTrackingScalingPolicyConfiguration:",
        f"        # invocations per instance per minute = within-SLA RPS per instance x {safety:g} x 60",
        f"        TargetValue: {target:.1f}",
        "        PredefinedMetricSpecification:",
        "          PredefinedMetricType: SageMakerVariantInvocationsPerInstance",
        "        ScaleInCooldown: 300",
        "        ScaleOutCooldown: 60",
    ]
