"""The security review's rules, checked on template.yaml for every resource of each type (none named by hand):

- IAM: no destructive action (create, delete, stop, run, put, pass, tag, …; wildcards expanded over botocore's
  operation names) is allowed on an unscoped resource (``*`` or a whole service), unless the statement is in
  ``UNSCOPED_ALLOWED`` with the reason AWS gives it no resource; ``iam:PassRole`` names its roles and the service;
  no resource policy allows ``*``; every AWS managed policy attached is in ``MANAGED_POLICIES`` with its reason.
- Data at rest and in transit: every bucket encrypted, all four public-access blocks on, a TLS-only bucket policy;
  every queue, topic and table encrypted; every log group kept for a limited time, and every function, task and
  state machine writes to one of them (not to an implicit log group that never expires).
- The state machines' logs carry no execution data where the data holds requests.
- checkov: every skip is in the reviewed table of docs/aws-stack.md ("Security review"), with the same reason, and
  that reason names what the check is about.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.session
import pytest
import yaml
from conftest import REPO
from iam_eval import wildcard_match
from iam_template import PARAMETERS, CfnLoader, Template

DOCUMENT: dict[str, Any] = yaml.load((REPO / "template.yaml").read_text(), Loader=CfnLoader)
# Every optional part on: the notification topic and its key, the existing-endpoint grants, the default schedule.
TEMPLATE = Template(DOCUMENT, {**PARAMETERS, "NotificationEmail": "ops@example.com"})
RESOURCES: dict[str, Any] = DOCUMENT["Resources"]

# --- IAM ---------------------------------------------------------------------------------------------------------

# Verbs of actions that create, change, delete, start, stop, pass or publish something.
DESTRUCTIVE_VERBS = (
    "Add", "Attach", "Cancel", "Change", "Create", "Delete", "Deregister", "Detach", "Disable", "Enable", "Invoke",
    "Modify", "Pass", "Publish", "Put", "Register", "Remove", "Reset", "Restore", "Run", "Send", "Set", "Start",
    "Stop", "Tag", "Terminate", "Untag", "Update",
)  # fmt: skip
# IAM service prefix -> botocore services whose operation names are (mostly) its action names.
BOTOCORE_SERVICES = {
    "cloudwatch": ["cloudwatch"],
    "dynamodb": ["dynamodb"],
    "ecr": ["ecr"],
    "ecs": ["ecs"],
    "events": ["events"],
    "iam": ["iam"],
    "kms": ["kms"],
    "lambda": ["lambda"],
    "logs": ["logs"],
    "pricing": ["pricing"],
    "s3": ["s3"],
    "sagemaker": ["sagemaker", "sagemaker-runtime"],
    "scheduler": ["scheduler"],
    "servicequotas": ["service-quotas"],
    "sns": ["sns"],
    "sqs": ["sqs"],
    "states": ["stepfunctions"],
    "sts": ["sts"],
    "xray": ["xray"],
}

# (principal, statement Sid) -> why it may name no resource. Each entry must still be needed (checked below).
UNSCOPED_ALLOWED = {
    ("RightsizingStateMachine", "ExecutionLogging"): (
        "Step Functions' log delivery actions (logs:CreateLogDelivery, PutResourcePolicy, …) support no resource "
        "ARN: the Service Authorization Reference lists no resource type for them"
    ),
    ("CleanupStateMachine", "ExecutionLogging"): "as for the rightsizing machine: log delivery takes no resource ARN",
    ("RightsizingStateMachine", "Tracing"): "xray:PutTraceSegments and PutTelemetryRecords support no resource ARN",
    ("CleanupStateMachine", "Tracing"): "xray:PutTraceSegments and PutTelemetryRecords support no resource ARN",
}

# AWS managed policies the template attaches, by name, and why each is acceptable.
MANAGED_POLICIES = {
    "AmazonECSTaskExecutionRolePolicy": (
        "the ECS agent's own role (LoadTestExecutionRole): pull the image (ECR) and create the task's log streams; "
        "the task's code runs under LoadTestTaskRole/LoadTestWorkerRole, not this role"
    ),
    "AWSLambdaBasicExecutionRole": "every function's log group and streams (logs:Create*, PutLogEvents); no data",
    "AWSXrayWriteOnlyAccess": "trace segments of functions and state machines with tracing on (xray:Put*)",
}


@cache
def _operations(service: str) -> tuple[str, ...]:
    names: list[str] = []
    for botocore_service in BOTOCORE_SERVICES[service]:
        names += botocore.session.get_session().get_service_model(botocore_service).operation_names
    return tuple(names)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def destructive_actions(pattern: str) -> list[str]:
    """The destructive actions an Action element allows: itself when literal, every matching operation (and any
    action a destructive verb could start) when it has a wildcard."""
    service, _, name = pattern.partition(":")
    if service == "*":
        return [pattern]
    if service not in BOTOCORE_SERVICES:
        raise AssertionError(f"{pattern}: add the service to BOTOCORE_SERVICES so its actions can be judged")
    candidates = [name] if "*" not in name and "?" not in name else list(_operations(service))
    if "*" in name or "?" in name:
        candidates += [f"{verb}Anything" for verb in DESTRUCTIVE_VERBS]
    matching = [c for c in candidates if wildcard_match(name, c, ignore_case=True)]
    return [f"{service}:{c}" for c in matching if c.startswith(DESTRUCTIVE_VERBS)]


def unscoped(resource: str) -> bool:
    """``*``, or every resource of a service (``arn:aws:sagemaker:r:a:*``, ``arn:aws:s3:::*``)."""
    return resource == "*" or bool(re.fullmatch(r"arn:[^:]+:[^:]+:[^:]*:[^:]*:\*", resource))


def _allow_statements() -> Iterator[tuple[str, dict[str, Any]]]:
    for principal, statements in TEMPLATE.principals().items():
        for statement in statements:
            if statement.get("Effect") == "Allow":
                yield principal, statement


def _statement_id(statement: dict[str, Any]) -> str:
    return str(statement.get("Sid") or statement.get("Action"))


def test_no_destructive_action_is_allowed_on_an_unscoped_resource() -> None:
    found = {}
    for principal, statement in _allow_statements():
        assert "NotAction" not in statement and "NotResource" not in statement, (principal, statement)
        broad = [r for r in _as_list(statement["Resource"]) if unscoped(str(r))]
        actions = [a for pattern in _as_list(statement["Action"]) for a in destructive_actions(pattern)]
        if broad and actions:
            found[(principal, _statement_id(statement))] = actions
    unexplained = {key: actions for key, actions in found.items() if key not in UNSCOPED_ALLOWED}
    assert not unexplained, (
        f"destructive actions on '*' (scope them, or give the reason in UNSCOPED_ALLOWED): {unexplained}"
    )
    assert set(UNSCOPED_ALLOWED) == set(found), f"no longer needed: {set(UNSCOPED_ALLOWED) - set(found)}"


def test_the_walk_sees_a_wildcard_grant() -> None:
    """The rule itself, on made-up statements: a wildcard action is expanded; a read-only one is not destructive."""
    assert "sagemaker:DeleteEndpoint" in destructive_actions("sagemaker:*")
    assert "s3:DeleteObject" in destructive_actions("s3:Del*")
    assert destructive_actions("sagemaker:Describe*") == [] and destructive_actions("pricing:GetProducts") == []
    assert destructive_actions("iam:PassRole") == ["iam:PassRole"]
    assert unscoped("*") and unscoped("arn:aws:sagemaker:us-east-1:123456789012:*")
    assert not unscoped("arn:aws:sagemaker:us-east-1:123456789012:endpoint/rightsize-*")


def test_pass_role_names_the_roles_and_the_service() -> None:
    passing = [
        (principal, statement)
        for principal, statement in _allow_statements()
        if any("iam:PassRole" in destructive_actions(a) for a in _as_list(statement["Action"]))
    ]
    assert passing
    for principal, statement in passing:
        resources = [str(r) for r in _as_list(statement["Resource"])]
        assert all(":role/" in r and "*" not in r for r in resources), (principal, resources)
        service = statement.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
        assert service and "*" not in str(service), (principal, statement)


def _resource_policies() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in RESOURCES.items():
        properties = TEMPLATE.resolve(resource.get("Properties", {}))
        document = properties.get("PolicyDocument") or properties.get("KeyPolicy")
        if resource["Type"] in (
            "AWS::S3::BucketPolicy",
            "AWS::SNS::TopicPolicy",
            "AWS::SQS::QueuePolicy",
            "AWS::KMS::Key",
        ):
            yield from ((name, s) for s in _as_list(document["Statement"]))


def test_no_resource_policy_allows_anyone() -> None:
    checked = 0
    for name, statement in _resource_policies():
        checked += 1
        if statement["Effect"] != "Allow":
            continue
        principal = statement["Principal"]
        assert principal != "*" and "*" not in _as_list(principal.get("AWS", [])), (name, statement)
        if "Service" in principal:  # a service acting for this stack only
            assert statement.get("Condition"), f"{name}: {principal} without a source condition"
    assert checked
    for name, resource in RESOURCES.items():
        if resource["Type"] == "AWS::Lambda::Permission":
            assert "SourceArn" in resource["Properties"], f"{name}: any rule or account could invoke"


def _after_sam_transform() -> dict[str, Any]:
    """The template as CloudFormation receives it from SAM: roles SAM makes, with the managed policies it adds."""
    transform = pytest.importorskip("samtranslator.translator.transform", reason="aws-sam-translator not installed")
    document = copy.deepcopy(DOCUMENT)
    for resource in document["Resources"].values():
        for key in ("CodeUri", "DefinitionUri", "ContentUri"):  # local paths: sam build uploads them
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key"

    class NoManagedPolicyNames:  # every policy of the template is a statement, an ARN or a SAM policy template
        def load(self) -> dict[str, str]:
            return {}

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        translated: dict[str, Any] = transform.transform(document, {}, NoManagedPolicyNames())
    return translated


def test_every_aws_managed_policy_is_reviewed() -> None:
    """Including those SAM attaches on its own (AWSLambdaBasicExecutionRole, X-Ray, an event source's policy)."""
    attached: dict[str, set[str]] = {}
    for name, resource in _after_sam_transform()["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for arn in resource["Properties"].get("ManagedPolicyArns", []):
            text = arn.get("Fn::Sub") if isinstance(arn, dict) else arn
            if isinstance(text, str) and ":iam::aws:policy/" in text:
                attached.setdefault(text.rsplit("/", 1)[-1], set()).add(name)
    assert set(attached) == set(MANAGED_POLICIES), attached
    assert "AWSLambdaSQSQueueExecutionRole" not in attached  # sqs:DeleteMessage on every queue


# --- data at rest, in transit, and log retention --------------------------------------------------------------


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    found = {name: TEMPLATE.resolve(r.get("Properties", {})) for name, r in RESOURCES.items() if r["Type"] == kind}
    assert found, f"no {kind} in the template: the rule below would pass vacuously"
    return found


def test_every_bucket_is_encrypted_private_and_tls_only() -> None:
    policies = _of_type("AWS::S3::BucketPolicy")
    for name, bucket in _of_type("AWS::S3::Bucket").items():
        rules = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms", "aws:kms:dsse")
        blocks = bucket["PublicAccessBlockConfiguration"]
        assert blocks == dict.fromkeys(
            ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
        ), name
        arn = TEMPLATE.attributes[name]["Arn"]
        denials = [
            s
            for policy in policies.values()
            if policy["Bucket"] == TEMPLATE.refs[name]
            for s in _as_list(policy["PolicyDocument"]["Statement"])
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert any(
            s["Principal"] == "*" and s["Action"] in ("s3:*", ["s3:*"]) and {arn, f"{arn}/*"} <= set(s["Resource"])
            for s in denials
        ), f"{name} has no TLS-only bucket policy"


def test_every_queue_topic_and_table_is_encrypted() -> None:
    for name, queue in _of_type("AWS::SQS::Queue").items():
        assert queue.get("SqsManagedSseEnabled") is True or queue.get("KmsMasterKeyId"), name
    for name, topic in _of_type("AWS::SNS::Topic").items():
        assert topic.get("KmsMasterKeyId"), name
    for name, table in _of_type("AWS::DynamoDB::Table").items():
        assert table.get("SSESpecification", {}).get("SSEEnabled") is True, name
    for name, key in _of_type("AWS::KMS::Key").items():
        assert key.get("EnableKeyRotation") is True, name


def test_every_log_group_expires_and_every_writer_uses_one() -> None:
    groups = _of_type("AWS::Logs::LogGroup")
    for name, group in groups.items():
        assert group.get("RetentionInDays") == TEMPLATE.refs["LogRetentionDays"], name
    group_names = {TEMPLATE.refs[name] for name in groups}
    group_arns = {TEMPLATE.attributes[name]["Arn"] for name in groups}
    for name, function in _of_type("AWS::Serverless::Function").items():
        # without LoggingConfig.LogGroup Lambda writes to /aws/lambda/<name>, created on first use, kept forever
        assert function.get("LoggingConfig", {}).get("LogGroup") in group_names, name
    for name, definition in _of_type("AWS::ECS::TaskDefinition").items():
        for container in definition["ContainerDefinitions"]:
            assert container["LogConfiguration"]["Options"]["awslogs-group"] in group_names, name
    for name, machine in _of_type("AWS::Serverless::StateMachine").items():
        destinations = machine["Logging"]["Destinations"]
        assert {d["CloudWatchLogsLogGroup"]["LogGroupArn"] for d in destinations} <= group_arns, name


def test_state_machine_logs_carry_no_request_data() -> None:
    """The rightsizing machine's input is the request (payload samples, container environments), and every later
    state carries the candidates' containers: its log records events without their data. The cleanup machine's
    data is a run id, a candidate id and the names of what a sweep deleted, so its failures keep their data (the
    GiveUp state's input is the last sweep's list of what remains)."""
    rightsizing = RESOURCES["RightsizingStateMachine"]["Properties"]["Logging"]
    assert rightsizing["IncludeExecutionData"] is False and rightsizing["Level"] in ("ERROR", "FATAL")
    cleanup = RESOURCES["CleanupStateMachine"]["Properties"]["Logging"]
    assert cleanup["Level"] in ("ERROR", "FATAL")
    # What starts the cleanup machine hands it ids only: the rule's input template and the StartSweep state.
    rule_input = RESOURCES["RunStoppedRule"]["Properties"]["Targets"][0]["InputTransformer"]
    assert set(rule_input["InputPathsMap"]) == {"run_id"}
    definition = (REPO / "statemachine" / "rightsizing.asl.json").read_text()
    start_sweep = re.search(r'"StartSweep":\s*\{.*?"Input":\s*(\{[^}]*\})', definition, re.DOTALL)
    assert start_sweep and set(re.findall(r'"(\w+)\.\$"', start_sweep.group(1))) == {"run_id", "candidate_id"}


# --- checkov skips: the reviewed table ------------------------------------------------------------------------

# What each skipped check is about, in words a reason must use: a reason that says none of them does not say why
# this check does not apply here ("not needed", "accepted risk", any length of filler).
CHECK_SUBJECTS = {
    "CKV_AWS_18": ("access logging",),
    "CKV_AWS_27": ("SqsManagedSseEnabled", "SQS-managed"),
    "CKV_AWS_115": ("Reserved concurrency", "reserved concurrency"),
    "CKV_AWS_116": ("Step Functions", "EventInvokeConfig", "dead-letter queue", "DLQ"),
    "CKV_AWS_117": ("VPC",),
    "CKV_AWS_119": ("AWS managed key", "aws/dynamodb"),
    "CKV_AWS_158": ("CloudWatch Logs",),
    "CKV_AWS_173": ("environment",),
}
GENERIC = re.compile(
    r"^\W*(n/?a|none|todo|tbd|not (needed|required|applicable)|accepted( risk)?|false positive)\W*$", re.IGNORECASE
)


def _skips() -> dict[tuple[str, str], set[str]]:
    """(check id, reason) -> the resources that skip the check with that reason."""
    found: dict[tuple[str, str], set[str]] = {}
    for name, resource in RESOURCES.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            found.setdefault((skip["id"], " ".join(skip.get("comment", "").split())), set()).add(name)
    return found


def _reviewed_table() -> dict[tuple[str, str], set[str]]:
    """The "checkov skips" table of docs/aws-stack.md: | check | resources | reason |."""
    text = (REPO / "docs" / "aws-stack.md").read_text()
    section = text.split("## Security review", 1)[1].split("\n## ", 1)[0]
    table: dict[tuple[str, str], set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`?CKV2?_AWS_\d+`?", cells[0]):
            resources = {r.strip(" `") for r in cells[1].split(",")}
            table[(cells[0].strip("`"), " ".join(cells[2].split()))] = resources
    return table


def test_every_checkov_skip_is_in_the_reviewed_table_with_the_same_reason() -> None:
    skips, table = _skips(), _reviewed_table()
    assert skips
    assert skips == table, (
        "template.yaml's checkov skips and the table in docs/aws-stack.md (Security review) differ:\n"
        f"  only in the template: {sorted(set(skips.items()) - set(table.items()))}\n"
        f"  only in the table: {sorted(set(table.items()) - set(skips.items()))}"
    )


@pytest.mark.parametrize("check", sorted({check for check, _ in _skips()}))
def test_each_skip_reason_names_what_the_check_is_about(check: str) -> None:
    assert check in CHECK_SUBJECTS, f"{check}: add the words its reasons must use to CHECK_SUBJECTS"
    for (skipped, reason), resources in _skips().items():
        if skipped != check:
            continue
        assert not GENERIC.match(reason), (check, resources, reason)
        assert any(word.lower() in reason.lower() for word in CHECK_SUBJECTS[check]), (
            f"{check} on {sorted(resources)}: the reason names none of {CHECK_SUBJECTS[check]}: {reason!r}"
        )
