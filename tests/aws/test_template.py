"""template.yaml and the state machine definitions, checked offline: cfn-lint (SAM transform included), statelint,
and the wiring between them that neither linter sees."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfn_template import CfnLoader
from conftest import FUNCTION_EVENTS, REPO

TEMPLATE = REPO / "template.yaml"
DEFINITIONS = sorted((REPO / "statemachine").glob("*.asl.json"))
TOOLS = Path(sys.executable).parent  # cfn-lint and statelint are dev dependencies of the project's venv
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


TEMPLATE_DOC: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
RESOURCES: dict[str, Any] = TEMPLATE_DOC["Resources"]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)


def test_cfn_lint_reports_nothing() -> None:
    result = _run(str(TOOLS / "cfn-lint"), str(TEMPLATE))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda p: p.name)
def test_statelint_reports_nothing(definition: Path) -> None:
    # URI: Resource ARNs are ${…} placeholders until SAM substitutes them; FLOAT: BackoffRate is an integer.
    result = _run(str(TOOLS / "statelint"), "--ignore=URI,FLOAT", str(definition))
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.parametrize("machine", ["RightsizingStateMachine", "CleanupStateMachine"])
def test_definition_substitutions_match_the_placeholders_exactly(machine: str) -> None:
    properties = RESOURCES[machine]["Properties"]
    placeholders = set(PLACEHOLDER.findall((REPO / properties["DefinitionUri"]).read_text()))
    assert placeholders == set(properties["DefinitionSubstitutions"])


def test_every_function_has_a_handler_requirements_and_a_sample_event() -> None:
    functions = {name: r for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
    assert len(functions) == 9
    for resource in functions.values():
        code = REPO / resource["Properties"]["CodeUri"]
        assert (code / "app.py").is_file() and (code / "requirements.txt").is_file()
        assert resource["Properties"]["Handler"] == "app.lambda_handler"
        assert (FUNCTION_EVENTS / f"{code.name}.json").is_file(), code.name


def test_template_uses_no_yaml_aliases() -> None:
    # CloudFormation's YAML parser does not support aliases or merge keys; only SAM's re-serialised copy would work.
    assert not re.search(r"(?m)(:|-)\s+[&*][A-Za-z_]+\s*$|<<:", TEMPLATE.read_text())


def _environment_names(function: dict[str, Any]) -> set[str]:
    variables = dict(TEMPLATE_DOC["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    variables.update(function["Properties"].get("Environment", {}).get("Variables", {}))
    return set(variables)


def _invoked_only_by_a_state_machine(name: str, resource: dict[str, Any]) -> bool:
    machines = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::Serverless::StateMachine"]
    substituted = [value for machine in machines for value in machine["DefinitionSubstitutions"].values()]
    # and no event source: no asynchronous invocation whose failures a DLQ would receive
    return {"GetAtt": f"{name}.Arn"} in substituted and "Events" not in resource["Properties"]


def _async_failures_reach_the_default_bus(name: str, resource: dict[str, Any]) -> bool:
    # invoked asynchronously (a schedule or a rule): after Lambda's retries the failed event is put on the bus
    failure = resource["Properties"].get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
    return failure.get("Type") == "EventBridge" and ":event-bus/default" in str(failure.get("Destination"))


def _polls_a_queue_with_a_dead_letter_queue(name: str, resource: dict[str, Any]) -> bool:
    # an SQS event source: a message that keeps failing moves to the queue's own dead-letter queue
    sources = resource["Properties"].get("Events", {}).values()
    queues = [e["Properties"]["Queue"]["GetAtt"].split(".")[0] for e in sources if e["Type"] == "SQS"]
    return bool(queues) and all("deadLetterTargetArn" in RESOURCES[q]["Properties"]["RedrivePolicy"] for q in queues)


def _no_function_setting(key: str) -> Callable[[str, dict[str, Any]], bool]:
    return lambda _, resource: key not in resource["Properties"] and key not in TEMPLATE_DOC["Globals"]["Function"]


# For each checkov check the template skips, the fact its comment rests on, checked in the template itself: a skip
# whose reason stopped being true (a VPC added, a secret in the environment, a skip on another kind of resource)
# fails here, and a new skip needs its reason written down as a check.
SKIP_REASONS: dict[str, Callable[[str, dict[str, Any]], bool]] = {
    "CKV_AWS_116": lambda name, resource: (  # no dead-letter queue
        _invoked_only_by_a_state_machine(name, resource)
        or _async_failures_reach_the_default_bus(name, resource)
        or _polls_a_queue_with_a_dead_letter_queue(name, resource)
    ),
    "CKV_AWS_117": _no_function_setting("VpcConfig"),  # not in a VPC
    "CKV_AWS_115": _no_function_setting("ReservedConcurrentExecutions"),  # no reserved concurrency
    "CKV_AWS_173": lambda _, resource: (
        not any(  # environment not encrypted with a customer key
            re.search(r"SECRET|PASSWORD|TOKEN|KEY|CREDENTIAL", variable) for variable in _environment_names(resource)
        )
    ),
    "CKV_AWS_158": lambda _, resource: (
        resource["Type"] == "AWS::Logs::LogGroup"  # logs without a customer key
        and "KmsKeyId" not in resource.get("Properties", {})
    ),
    "CKV_AWS_119": lambda _, resource: (
        resource["Type"] == "AWS::DynamoDB::Table"  # encrypted with the AWS managed key, not a customer key
        and resource["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    ),
    "CKV_AWS_27": lambda _, resource: (
        resource["Type"] == "AWS::SQS::Queue"  # SSE with SQS-managed keys, not KMS
        and resource["Properties"].get("SqsManagedSseEnabled") is True
    ),
    "CKV_AWS_18": lambda _, resource: (
        resource["Type"] == "AWS::S3::Bucket"  # no access logging, but private
        and all(resource["Properties"]["PublicAccessBlockConfiguration"].values())
    ),
}


def test_every_checkov_skip_states_a_reason_that_holds() -> None:
    skips = [
        (name, resource, skip)
        for name, resource in RESOURCES.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, resource, skip in skips:
        assert skip.get("comment"), f"{name} skips {skip['id']} without saying why"
        assert skip["id"] in SKIP_REASONS, f"{name} skips {skip['id']}: add the fact it rests on to SKIP_REASONS"
        assert SKIP_REASONS[skip["id"]](name, resource), f"{name} skips {skip['id']} but its reason no longer holds"


def test_sagemaker_create_is_scoped_to_the_prefix_and_requires_the_run_id_tag() -> None:
    statements = [
        s
        for policy in RESOURCES["RightsizingStateMachine"]["Properties"]["Policies"]
        for s in policy.get("Statement", [])
        if isinstance(s, dict) and "Sid" in s
    ]
    create = next(s for s in statements if s["Sid"] == "CreateOnlyTaggedBenchmarkResources")
    creates = {"sagemaker:CreateModel", "sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint"}
    assert creates <= set(create["Action"])
    assert all("/rightsize-*" in r["Sub"] for r in create["Resource"])
    assert create["Condition"] == {"Null": {"aws:RequestTag/rightsizing:run-id": "false"}}
    pass_role = next(s for s in statements if s["Sid"] == "PassOnlyTheModelRoleToSageMaker")
    assert pass_role["Resource"] == {"Ref": "SageMakerExecutionRoleArn"}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_results_bucket_is_private_encrypted_tls_only_and_expires() -> None:
    bucket = RESOURCES["ResultsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    expiring = [rule for rule in bucket["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in rule]
    # Only run artefacts expire: the requests of schedules/ and the profiles/ of the registry trigger must not.
    assert expiring == [{**expiring[0], "Prefix": "runs/", "ExpirationInDays": {"Ref": "ResultsRetentionDays"}}]
    deny = RESOURCES["ResultsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_stopped_runs_trigger_the_sweeper_with_the_run_id() -> None:
    rule = RESOURCES["RunStoppedRule"]["Properties"]
    assert set(rule["EventPattern"]["detail"]["status"]) == {"FAILED", "TIMED_OUT", "ABORTED"}
    target = rule["Targets"][0]
    assert target["Arn"] == {"Ref": "CleanupStateMachine"}
    assert target["InputTransformer"]["InputPathsMap"] == {"run_id": "$.detail.name"}  # execution name = run id


def test_the_master_task_knows_where_to_start_worker_tasks() -> None:
    from rightsizing_loadtest.ecs_workers import CONFIG_ENV, MASTER_PORT

    master = RESOURCES["LoadTestTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    environment = {item["Name"]: item["Value"] for item in master["Environment"]}
    assert set(CONFIG_ENV.values()) <= set(environment)
    assert environment[CONFIG_ENV["task_definition"]] == {"Ref": "LoadTestWorkerTaskDefinition"}
    assert environment[CONFIG_ENV["cluster"]] == {"GetAtt": "LoadTestCluster.Arn"}
    worker = RESOURCES["LoadTestWorkerTaskDefinition"]["Properties"]
    container = worker["ContainerDefinitions"][0]
    assert environment[CONFIG_ENV["container"]] == container["Name"]
    assert container["EntryPoint"] == ["python", "-m", "rightsizing_loadtest.worker"]
    assert worker["Cpu"] == "1024"  # one Locust worker per vCPU
    ingress = RESOURCES["LoadTestWorkerIngress"]["Properties"]
    assert ingress["FromPort"] == ingress["ToPort"] == MASTER_PORT
    assert ingress["GroupId"] == ingress["SourceSecurityGroupId"] == {"Ref": "LoadTestSecurityGroupId"}
    # Workers open the connection: a group whose outbound rules allow only 443 would drop it without this.
    egress = RESOURCES["LoadTestWorkerEgress"]
    assert egress["Type"] == "AWS::EC2::SecurityGroupEgress"
    assert egress["Properties"]["IpProtocol"] == "tcp"
    assert egress["Properties"]["FromPort"] == egress["Properties"]["ToPort"] == MASTER_PORT
    group = {"Ref": "LoadTestSecurityGroupId"}
    assert egress["Properties"]["GroupId"] == egress["Properties"]["DestinationSecurityGroupId"] == group


def test_the_master_may_start_only_worker_tasks_and_pass_only_their_roles() -> None:
    policy = RESOURCES["LoadTestMasterStartsWorkers"]["Properties"]
    assert policy["Roles"] == [{"Ref": "LoadTestTaskRole"}]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    run = statements["RunWorkerTasksOnThisCluster"]
    assert run["Action"] == "ecs:RunTask" and run["Resource"] == {"Ref": "LoadTestWorkerTaskDefinition"}
    assert run["Condition"] == {"ArnEquals": {"ecs:cluster": {"GetAtt": "LoadTestCluster.Arn"}}}
    assert statements["TagWorkerTasksAtLaunch"]["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}
    passed = statements["PassOnlyTheWorkerRolesToEcs"]
    assert passed["Resource"] == [{"GetAtt": "LoadTestWorkerRole.Arn"}, {"GetAtt": "LoadTestExecutionRole.Arn"}]
    worker = RESOURCES["LoadTestWorkerTaskDefinition"]["Properties"]
    assert worker["TaskRoleArn"] == {"GetAtt": "LoadTestWorkerRole.Arn"}
    # Workers only invoke and read their job; writing results and starting tasks stay with the master.
    assert "Policies" not in RESOURCES["LoadTestWorkerRole"]["Properties"]
    shared = RESOURCES["LoadTestInvokePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert {s["Action"] for s in shared} == {"sagemaker:InvokeEndpoint", "s3:GetObject"}


def test_the_sweeper_may_stop_only_the_load_test_clusters_tasks() -> None:
    sweep = RESOURCES["SweepFunction"]["Properties"]
    assert sweep["Environment"]["Variables"]["LOAD_TEST_CLUSTER_ARN"] == {"GetAtt": "LoadTestCluster.Arn"}
    statements = {s["Sid"]: s for s in sweep["Policies"][0]["Statement"]}
    assert statements["FindRunWorkerTasks"]["Condition"] == {
        "ArnEquals": {"ecs:cluster": {"GetAtt": "LoadTestCluster.Arn"}}
    }
    assert "task/${LoadTestCluster}/*" in statements["StopRunWorkerTasks"]["Resource"]["Sub"]


def _statements(resource: str) -> dict[str, Any]:
    policies = RESOURCES[resource]["Properties"]["Policies"]
    return {
        s["Sid"]: s for policy in policies for s in policy.get("Statement", []) if isinstance(s, dict) and "Sid" in s
    }


@pytest.mark.parametrize("function", ["CollectMetricsFunction", "RecommendFunction"])
def test_functions_that_expect_missing_artefacts_may_list_the_bucket(function: str) -> None:
    # Collect checks for result.json, Recommend for each trace.json: S3 says 404 for a missing key only to a
    # caller that may list the bucket, and 403 (an error, not "missing") to any other.
    listing = _statements(function)["TellMissingFromForbidden"]
    assert listing["Action"] == "s3:ListBucket" and listing["Resource"] == {"GetAtt": "ResultsBucket.Arn"}


def test_the_state_machine_may_tag_what_it_creates_with_tags() -> None:
    # Tag-on-create: RunTask with PropagateTags needs ecs:TagResource, a SageMaker Create* with Tags needs
    # sagemaker:AddTags; without them the call is refused with AccessDenied although RunTask/Create* is allowed.
    statements = _statements("RightsizingStateMachine")
    assert "sagemaker:AddTags" in statements["CreateOnlyTaggedBenchmarkResources"]["Action"]
    tagging = statements["TagLoadTestsAtLaunch"]
    assert tagging["Action"] == "ecs:TagResource"
    assert tagging["Resource"]["Sub"].endswith(":task/${LoadTestCluster}/*")
    assert tagging["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}
    definition = (REPO / "statemachine" / "rightsizing.asl.json").read_text()
    assert '"PropagateTags": "TASK_DEFINITION"' in definition


# Fargate task sizes, as the ECS developer guide tables them (task CPU units -> memory MiB: first, last, step).
FARGATE_TASK_SIZES = {
    256: (512, 2048, None),  # 512, 1024, 2048
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}


def _fargate_accepts(cpu: int, memory: int) -> bool:
    first, last, step = FARGATE_TASK_SIZES[cpu]
    if step is None:
        return memory in (512, 1024, 2048)
    return first <= memory <= last and (memory - first) % step == 0


def _evaluate(node: Any, parameters: dict[str, str]) -> Any:
    """The rule functions the template's Rules use, as CloudFormation evaluates them on the parameter values."""
    if isinstance(node, list):
        return [_evaluate(item, parameters) for item in node]
    if not isinstance(node, dict):
        return node
    [(function, argument)] = node.items()
    if function == "Ref":
        return parameters[argument]
    values = _evaluate(argument, parameters)
    if function == "Fn::Equals":
        return values[0] == values[1]
    if function == "Fn::Contains":
        return values[1] in values[0]
    raise AssertionError(f"rule function {function} not modelled here")


def _rules_accept(parameters: dict[str, str]) -> bool:
    rules = TEMPLATE_DOC["Rules"].values()
    applying = [rule for rule in rules if _evaluate(rule.get("RuleCondition", True), parameters)]
    return all(_evaluate(a["Assert"], parameters) for rule in applying for a in rule["Assertions"])


def test_rules_accept_exactly_the_fargate_task_sizes() -> None:
    parameters = TEMPLATE_DOC["Parameters"]
    cpus, memories = parameters["LoadTestCpu"]["AllowedValues"], parameters["LoadTestMemory"]["AllowedValues"]
    for cpu in cpus:
        for memory in memories:
            accepted = _rules_accept({"LoadTestCpu": cpu, "LoadTestMemory": memory})
            assert accepted == _fargate_accepts(int(cpu), int(memory)), (cpu, memory)
    # Every valid memory of every offered CPU can be chosen, the defaults are a valid pair, and so is the worker's.
    for cpu in cpus:
        valid = [m for m in range(512, 122881, 512) if _fargate_accepts(int(cpu), m)]
        assert {str(m) for m in valid} <= set(memories), cpu
    assert _rules_accept({"LoadTestCpu": parameters["LoadTestCpu"]["Default"], "LoadTestMemory": "4096"})
    worker = RESOURCES["LoadTestWorkerTaskDefinition"]["Properties"]
    assert _fargate_accepts(int(worker["Cpu"]), int(worker["Memory"]))
