"""template.yaml as IAM sees it once deployed: every principal's policy statements, with the intrinsics resolved to
placeholder ARNs of the real shapes (one account, one region, CloudFormation-style physical names).

Principals are the SAM functions' and state machines' roles (their ``Policies``: inline statements and SAM policy
templates, expanded as SAM expands them), and the ``AWS::IAM::Role`` resources (inline policies, customer managed
policies of the template, and ``AWS::IAM::Policy`` resources attached to them). AWS managed policies
(AWSLambdaBasicExecutionRole, AmazonECSTaskExecutionRolePolicy) are not modelled: no recorded call relies on them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"

PARTITION = "aws"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account: ARNs moto returns match the template's
STACK = "rightsizing"

# Parameter values of the deployment under test; the rest take their defaults. The existing-endpoint pattern is
# set, so the statements behind HasExistingEndpoints are in force (events/aws-existing-endpoint.json uses it).
PARAMETERS: dict[str, Any] = {
    "SageMakerExecutionRoleArn": f"arn:{PARTITION}:iam::{ACCOUNT}:role/SageMakerExecution",
    "ExistingEndpointNamePattern": "fraud-prod*",
    "LoadTestImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/rightsizing-loadtest:1",
    "LoadTestSubnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
    "LoadTestSecurityGroupId": "sg-0cccccccccccccccc",
    "DefaultScheduleExpression": "rate(7 days)",  # the stack's own schedule exists, so its role's needs are checked
}

# SAM's policy templates this template uses, as samtranslator 1.110 defines them
# (samtranslator/policy_templates_data/policy_templates.json); test_iam_coverage checks them against the installed
# samtranslator when there is one.
SAM_POLICY_TEMPLATES: dict[str, dict[str, Any]] = {
    "LambdaInvokePolicy": {
        "Statement": [
            {
                "Action": ["lambda:InvokeFunction"],
                "Effect": "Allow",
                "Resource": {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${functionName}*",
                        {"functionName": {"Ref": "FunctionName"}},
                    ]
                },
            }
        ]
    },
    "EventBridgePutEventsPolicy": {
        "Statement": [
            {
                "Action": "events:PutEvents",
                "Effect": "Allow",
                "Resource": {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${eventBusName}",
                        {"eventBusName": {"Ref": "EventBusName"}},
                    ]
                },
            }
        ]
    },
}


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form intrinsics (!Ref, !Sub, …) as their long form ({"Ref": …}, {"Fn::Sub": …})."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
        return {name: value}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


CfnLoader.add_multi_constructor("!", _intrinsic)


def physical_name(logical_id: str) -> str:
    """CloudFormation's generated name shape: stack, logical id, random suffix."""
    return f"{STACK}-{logical_id}-1A2B3C4D5E6F"


def _arn(service: str, resource: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


# Resources whose Ref is their physical name and that have no attribute a policy uses.
NAMED_ONLY = (
    "AWS::IAM::Policy",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::S3::BucketPolicy",
    "AWS::Lambda::Permission",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
)


def _identities(logical_id: str, resource_type: str) -> tuple[Any, dict[str, Any]]:
    """(Ref, {attribute: value}) of a deployed resource, by type; an unknown type fails so it gets modelled."""
    name = physical_name(logical_id)
    if resource_type in NAMED_ONLY:
        return name, {}
    if resource_type == "AWS::S3::Bucket":
        bucket = name.lower()
        return bucket, {"Arn": f"arn:{PARTITION}:s3:::{bucket}"}
    if resource_type == "AWS::ECS::TaskDefinition":
        arn = _arn("ecs", f"task-definition/{name}:1")
        return arn, {"TaskDefinitionArn": arn}
    if resource_type == "AWS::IAM::Role":
        return name, {"Arn": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}", "RoleId": "AROAEXAMPLE"}
    if resource_type == "AWS::IAM::ManagedPolicy":
        return f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{name}", {}
    if resource_type == "AWS::Serverless::LayerVersion":
        return _arn("lambda", f"layer:{name}:1"), {}
    if resource_type == "AWS::Serverless::StateMachine":
        return _arn("states", f"stateMachine:{name}"), {"Name": name}
    if resource_type == "AWS::SNS::Topic":
        arn = _arn("sns", name)
        return arn, {"TopicArn": arn, "TopicName": name}
    if resource_type == "AWS::KMS::Key":
        key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
        return key_id, {"Arn": _arn("kms", f"key/{key_id}"), "KeyId": key_id}
    if resource_type == "AWS::SQS::Queue":
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}", {"Arn": _arn("sqs", name), "QueueName": name}
    arn_resource = {
        "AWS::ECS::Cluster": "ecs:cluster/{}",
        "AWS::Serverless::Function": "lambda:function:{}",
        "AWS::Logs::LogGroup": "logs:log-group:{}:*",
        "AWS::Events::Rule": "events:rule/{}",
        "AWS::Scheduler::ScheduleGroup": "scheduler:schedule-group/{}",
        "AWS::Scheduler::Schedule": "scheduler:schedule/{}",
        "AWS::DynamoDB::Table": "dynamodb:table/{}",
    }.get(resource_type)
    if arn_resource is None:
        raise NotImplementedError(f"{logical_id}: no placeholder identity for {resource_type}; add one to _identities")
    service, _, resource = arn_resource.partition(":")
    return name, {"Arn": _arn(service, resource.format(name))}


class NoValue:
    """AWS::NoValue: the property or list item disappears."""


NO_VALUE = NoValue()


class Template:
    def __init__(self, document: dict[str, Any], parameters: Mapping[str, Any] | None = None) -> None:
        self.document = document
        self.resources: dict[str, Any] = document["Resources"]
        values = {name: spec.get("Default") for name, spec in document.get("Parameters", {}).items()}
        values.update(parameters or {})
        for name, spec in document.get("Parameters", {}).items():  # CloudFormation hands these over as lists
            if spec.get("Type") == "CommaDelimitedList" and isinstance(values.get(name), str):
                values[name] = values[name].split(",")
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise ValueError(f"no value for template parameters {missing}")
        self.refs: dict[str, Any] = {
            **values,
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        self.attributes: dict[str, dict[str, Any]] = {}
        for logical_id, resource in self.resources.items():
            ref, attributes = _identities(logical_id, resource["Type"])
            self.refs[logical_id] = ref
            self.attributes[logical_id] = attributes
        self.conditions = {name: self.condition(name) for name in document.get("Conditions", {})}

    # --- intrinsics ----------------------------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.document["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic evaluated; list items and keys that resolve to AWS::NoValue are dropped."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = INTRINSICS.get(key)
            if function is not None:
                return function(self, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        local = {name: self.resolve(item) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self.attributes[logical_id][attribute])
            return str(self.refs[name])

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    # --- principals ----------------------------------------------------------------------------------------------
    def principals(self) -> dict[str, list[dict[str, Any]]]:
        """Logical id of each role-bearing resource -> its identity-policy statements (resolved)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for logical_id, resource in self.resources.items():
            kind, properties = resource["Type"], resource.get("Properties", {})
            if kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
                if "Role" in properties:
                    continue  # an explicit role: modelled as the AWS::IAM::Role it refers to
                found[logical_id] = self._sam_policies(logical_id, properties.get("Policies", []))
            elif kind == "AWS::IAM::Role":
                found[logical_id] = self._role_statements(logical_id, properties)
        return found

    def _sam_policies(self, logical_id: str, policies: Any) -> list[dict[str, Any]]:
        statements: list[dict[str, Any]] = []
        for policy in self.resolve_conditionals(policies if isinstance(policies, list) else [policies]):
            if isinstance(policy, str):
                continue  # an AWS managed policy by name or ARN: not modelled (see the module docstring)
            if "Statement" in policy:
                statements.extend(self.resolve(policy["Statement"]))
                continue
            ((template_name, template_parameters),) = policy.items()
            if template_name not in SAM_POLICY_TEMPLATES:
                raise NotImplementedError(f"{logical_id}: SAM policy template {template_name} is not modelled")
            statements.extend(self.expand_sam_template(template_name, template_parameters))
        return statements

    def resolve_conditionals(self, items: list[Any]) -> list[Any]:
        """Fn::If around whole list items (SAM Policies): the chosen branch, or nothing for AWS::NoValue."""
        chosen = []
        for item in items:
            if isinstance(item, dict) and set(item) == {"Fn::If"}:
                name, when_true, when_false = item["Fn::If"]
                item = when_true if self.conditions[name] else when_false
                if item == {"Ref": "AWS::NoValue"}:
                    continue
            chosen.append(item)
        return chosen

    def expand_sam_template(self, name: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        definition = copy.deepcopy(SAM_POLICY_TEMPLATES[name])

        def bind(value: Any) -> Any:  # {"Ref": <template parameter>} -> the value the policy was given
            if isinstance(value, dict):
                if set(value) == {"Ref"} and value["Ref"] in parameters:
                    return parameters[value["Ref"]]
                return {key: bind(item) for key, item in value.items()}
            if isinstance(value, list):
                return [bind(item) for item in value]
            return value

        statements: list[dict[str, Any]] = self.resolve(bind(definition["Statement"]))
        return statements

    def _role_statements(self, logical_id: str, properties: Mapping[str, Any]) -> list[dict[str, Any]]:
        statements: list[dict[str, Any]] = []
        for policy in self.resolve(properties.get("Policies", [])):
            statements.extend(_as_list(policy["PolicyDocument"]["Statement"]))
        managed = {
            self.refs[name]: name for name, r in self.resources.items() if r["Type"] == "AWS::IAM::ManagedPolicy"
        }
        for arn in self.resolve(properties.get("ManagedPolicyArns", [])):
            if arn in managed:  # a customer managed policy of this template (AWS managed ones are not modelled)
                document = self.resolve(self.resources[managed[arn]]["Properties"]["PolicyDocument"])
                statements.extend(_as_list(document["Statement"]))
        role_ref = self.refs[logical_id]
        for resource in self.resources.values():
            if resource["Type"] == "AWS::IAM::Policy" and role_ref in self.resolve(resource["Properties"]["Roles"]):
                statements.extend(_as_list(self.resolve(resource["Properties"]["PolicyDocument"])["Statement"]))
        return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _if(template: Template, argument: list[Any]) -> Any:
    name, when_true, when_false = argument
    return template.resolve(when_true if template.conditions[name] else when_false)


def _get_att(template: Template, argument: Any) -> Any:
    logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
    return template.attributes[logical_id][attribute]


INTRINSICS: dict[str, Any] = {
    "Ref": lambda t, name: t.refs[name],
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda t, argument: t.sub(argument),
    "Fn::Join": lambda t, argument: argument[0].join(str(v) for v in t.resolve(argument[1])),
    "Fn::If": _if,
    "Fn::Equals": lambda t, argument: t.resolve(argument[0]) == t.resolve(argument[1]),
    "Fn::Not": lambda t, argument: not t.resolve(argument[0]),
    "Fn::And": lambda t, argument: all(t.resolve(v) for v in argument),
    "Fn::Or": lambda t, argument: any(t.resolve(v) for v in argument),
    "Condition": lambda t, name: t.conditions[name] if name in t.conditions else t.condition(name),
    "Fn::Select": lambda t, argument: t.resolve(argument[1])[int(t.resolve(argument[0]))],
}


@cache
def deployed_template() -> Template:
    return Template(yaml.load(TEMPLATE.read_text(), Loader=CfnLoader), PARAMETERS)


def definition_substitutions(template: Template, machine: str) -> dict[str, str]:
    properties = template.resources[machine]["Properties"]
    return {key: str(template.resolve(value)) for key, value in properties["DefinitionSubstitutions"].items()}


def state_machine_definition(template: Template, machine: str) -> dict[str, Any]:
    """The ASL as deployed: ``${…}`` placeholders replaced by the DefinitionSubstitutions."""
    properties = template.resources[machine]["Properties"]
    text = (REPO / properties["DefinitionUri"]).read_text()
    substitutions = definition_substitutions(template, machine)
    document: dict[str, Any] = json.loads(re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], text))
    return document
