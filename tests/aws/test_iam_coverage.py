"""Every AWS call each principal makes during a faked run is granted by template.yaml, run-time rules included.

The run, offline and in-process: the Plan handler plans three sample requests (new endpoints, an existing endpoint,
distributed load on worker tasks) against moto; the load generator's entry point reads a planned job, starts,
watches and stops worker tasks, signs an InvokeEndpoint and writes its artefacts; a worker task reads its job; the
CollectMetrics handler collects a candidate that ran and one that did not; Recommend reports on both and records
the run in the history table (twice: the second run reads the first); the Sweep handler sweeps a run's SageMaker
resources and worker tasks; the RunFailed handler announces a failed run. Every botocore call is recorded with its
principal (``iam_calls.CallRecorder``); the state machines' Task states are read from the deployed definitions with the
planned candidates as input (``iam_integrations``). Each call becomes IAM needs (action, resource ARN, condition
context) and each need is evaluated against the principal's statements in the template (``iam_template``,
``iam_eval``). moto does not model the Price List API, Service Quotas or ECS tasks on Fargate (awsvpc): those answer
from small stand-ins, after botocore has validated the request against the service model.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import FakeLambdaContext, load_handler
from iam_calls import ApiCall, CallRecorder, needs_of
from iam_eval import Need, allowed, missing
from iam_fakes import FargateTasks, canned
from iam_integrations import rule_target_needs, schedule_target_needs, state_machine_needs, task_needs
from iam_template import ACCOUNT, REGION, SAM_POLICY_TEMPLATES, deployed_template
from moto.server import ThreadedMotoServer

from rightsizing.exceptions import LoadTestFailed
from rightsizing.models.plan import CANDIDATE_TAG, RUN_ID_TAG, resource_name, worker_started_by

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PACKAGES = [str(REPO / "layers" / "rightsizing"), str(REPO / "loadtest")]
EVENTS = REPO / "events"
TEMPLATE = deployed_template()
BUCKET = TEMPLATE.refs["ResultsBucket"]

# Every principal of the template that acts at run time (the task execution role only pulls the image and writes
# logs, through an AWS managed policy).
ACTING = {
    "PlanFunction",
    "CollectMetricsFunction",
    "RecommendFunction",
    "SweepFunction",
    "RunFailedFunction",
    "LoadTestTaskRole",
    "LoadTestWorkerRole",
    "RightsizingStateMachine",
    "CleanupStateMachine",
    "RunStoppedRuleRole",
    "StartScheduledRunFunction",
    "StartRegistryRunFunction",
    "SchedulerRole",
}


# --- the faked run ---------------------------------------------------------------------------------------------------


@dataclass
class FakedRun:
    recorder: CallRecorder
    plans: list[dict[str, Any]]
    task_roles: dict[str, list[str]]
    finished: dict[str, Any]  # a Recommend step's output: the summary and the events PublishResult puts


def _container_environment(definition: str) -> dict[str, str]:
    container = TEMPLATE.resolve(TEMPLATE.resources[definition]["Properties"]["ContainerDefinitions"])[0]
    return {item["Name"]: str(item["Value"]) for item in container.get("Environment", [])}


def _task_roles() -> dict[str, list[str]]:
    """Each task definition of the template (as RunTask names it) -> the roles it makes RunTask pass."""
    roles = {}
    for logical_id, resource in TEMPLATE.resources.items():
        if resource["Type"] == "AWS::ECS::TaskDefinition":
            properties = TEMPLATE.resolve(resource["Properties"])
            roles[TEMPLATE.refs[logical_id]] = [
                properties[k] for k in ("TaskRoleArn", "ExecutionRoleArn") if k in properties
            ]
    return roles


def _plan(
    recorder: CallRecorder, request_file: str, run_id: str, context: FakeLambdaContext, **payloads: Any
) -> dict[str, Any]:
    request = json.loads((EVENTS / request_file).read_text())
    request["payloads"].update(payloads)
    event = {"request": request, "run_id": run_id, "artifacts_uri": f"s3://{BUCKET}"}
    with recorder.acting_as("PlanFunction"):
        plan: dict[str, Any] = load_handler("plan").lambda_handler(event, context)
    return plan


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _load_generator_run(mode: str, definition: str, job_uri: str, endpoint_url: str) -> dict[str, Any]:
    """A run of ``iam_loadtest_driver``: the container's environment as its task definition sets it."""
    environment = {
        **_container_environment(definition),
        "JOB_URI": job_uri,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint_url,
        "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/container",
    }
    if mode == "worker":
        environment.update(RIGHTSIZING_MASTER_HOST="10.0.1.23", RIGHTSIZING_MASTER_PORT="5557")
    return {"mode": mode, "environment": environment}


def _run_load_generators(recorder: CallRecorder, runs: list[dict[str, Any]]) -> None:
    """The load generator in a process of its own (``iam_loadtest_driver``: importing Locust patches the importing
    process with gevent); its recorded calls join the run's."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=os.pathsep.join([str(HERE), *PACKAGES, environment.get("PYTHONPATH", "")]),
    )
    with tempfile.TemporaryDirectory() as scratch:
        runs_file, out = Path(scratch) / "runs.json", Path(scratch) / "calls.json"
        runs_file.write_text(json.dumps(runs))
        done = subprocess.run(
            [sys.executable, str(HERE / "iam_loadtest_driver.py"), str(runs_file), str(out)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=scratch,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        for call in json.loads(out.read_text()):
            recorder.add(ApiCall(**call))


def _deploy(sagemaker: Any, name: str, instance_type: str, tags: list[dict[str, str]]) -> None:
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=TEMPLATE.refs["SageMakerExecutionRoleArn"],
                           PrimaryContainer={"Image": "image"}, Tags=tags)  # fmt: skip
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": instance_type, "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant], Tags=tags)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tags)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """One moto server for the Lambda steps (in this process) and the load generator (in its own)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def faked_run(moto_server: str) -> Iterator[FakedRun]:
    fargate = FargateTasks()
    recorder = CallRecorder(canned(fargate))
    context = FakeLambdaContext()
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": moto_server,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_NAMESPACE": "RightsizingTest",
            "POWERTOOLS_SERVICE_NAME": "rightsizing",
            **TEMPLATE.resolve(TEMPLATE.document["Globals"]["Function"]["Environment"]["Variables"]),
            **TEMPLATE.resolve(TEMPLATE.resources["SweepFunction"]["Properties"]["Environment"]["Variables"]),
        }.items():
            monkeypatch.setenv(name, str(value))
        recorder.install(monkeypatch)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        table = TEMPLATE.resolve(TEMPLATE.resources["HistoryTable"]["Properties"])
        shape = ("AttributeDefinitions", "KeySchema", "LocalSecondaryIndexes", "GlobalSecondaryIndexes", "BillingMode")
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TEMPLATE.refs["HistoryTable"], **{k: table[k] for k in shape}
        )
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        _deploy(sagemaker, "fraud-prod", "ml.m5.xlarge", [])  # events/aws-existing-endpoint.json benchmarks it
        row = (EVENTS / "payloads" / "fraud-row.csv").read_bytes()
        s3.put_object(Bucket=BUCKET, Key="payloads/fraud-row.csv", Body=row)
        s3.put_object(Bucket=BUCKET, Key="payloads/fraud-rows.tar.gz", Body=_tar_gz({"row.csv": row}))

        plans = [
            _plan(recorder, "aws-fraud-tabular.json", "tabular-20260101-120000", context),
            _plan(recorder, "aws-existing-endpoint.json", "existing-20260101-120000", context),
            # Payloads in the results bucket, a file and an archive: the plan function reads them.
            _plan(
                recorder,
                "aws-fraud-peak-distributed.json",
                "peak-20260101-120000",
                context,
                files=[f"s3://{BUCKET}/payloads/fraud-row.csv"],
                archive=f"s3://{BUCKET}/payloads/fraud-rows.tar.gz",
            ),
        ]
        tabular, _, peak = plans
        ran, never_ran = tabular["candidates"][:2]
        distributed = peak["candidates"][0]
        _run_load_generators(
            recorder,
            [
                _load_generator_run("task", "LoadTestTaskDefinition", ran["job_uri"], moto_server),
                _load_generator_run("task", "LoadTestTaskDefinition", distributed["job_uri"], moto_server),
                _load_generator_run("worker", "LoadTestWorkerTaskDefinition", distributed["job_uri"], moto_server),
            ],
        )

        collect = load_handler("collect_metrics").lambda_handler
        with recorder.acting_as("CollectMetricsFunction"):
            collected = collect({"candidate": ran}, context)
            with pytest.raises(LoadTestFailed):  # its load test never wrote a result
                collect({"candidate": never_ran}, context)
        outcomes = [
            {"candidate": ran, "outcome": collected},
            {"candidate": never_ran, "outcome": {"Error": "EndpointFailed", "Cause": "endpoint reached Failed"}},
        ]
        recommend_env = TEMPLATE.resolve(TEMPLATE.resources["RecommendFunction"]["Properties"]["Environment"])
        for name, value in recommend_env["Variables"].items():
            monkeypatch.setenv(name, str(value))
        with recorder.acting_as("RecommendFunction"):
            event = {"run_id": tabular["run_id"], "run_uri": tabular["run_uri"], "outcomes": outcomes}
            first = load_handler("recommend").lambda_handler(event, context)
            rerun = {**event, "run_id": "tabular-20260102-120000"}  # the same request's uri, a later run id
            second = load_handler("recommend").lambda_handler(rerun, context)
        assert first["summary"]["previous_run_id"] is None
        assert second["summary"]["previous_run_id"] == tabular["run_id"]
        finished = second

        failed = json.loads((EVENTS / "functions" / "run_failed.json").read_text())
        for name, value in TEMPLATE.resolve(TEMPLATE.resources["RunFailedFunction"]["Properties"]["Environment"])[
            "Variables"
        ].items():
            monkeypatch.setenv(name, str(value))
        with recorder.acting_as("RunFailedFunction"):
            load_handler("run_failed").lambda_handler(failed, context)

        # What an aborted run leaves: a benchmark's endpoint, config and model, and worker tasks still running.
        run_id, candidate = peak["run_id"], distributed["candidate_id"]
        tags = [{"Key": RUN_ID_TAG, "Value": run_id}, {"Key": CANDIDATE_TAG, "Value": candidate}]
        _deploy(sagemaker, resource_name(run_id, 1), "ml.m5.4xlarge", tags)  # moto knows older types only
        fargate.add(worker_started_by(run_id), [{"key": t["Key"], "value": t["Value"]} for t in tags])
        fargate.add(worker_started_by(run_id), [])
        sweep = load_handler("cleanup").lambda_handler
        with recorder.acting_as("SweepFunction"):
            assert sweep({"run_id": run_id, "candidate_id": candidate}, context)["done"] is True
            assert sweep({"run_id": run_id}, context)["done"] is True

        _start_automatically(recorder, monkeypatch, s3, context)
        yield FakedRun(recorder, plans, _task_roles(), finished)


def _start_automatically(recorder: CallRecorder, monkeypatch: Any, s3: Any, context: FakeLambdaContext) -> None:
    """A schedule's period and an approved model package each start a run; a schedule without a stored request and
    a group without a profile read a missing key (404, given s3:ListBucket) and start nothing."""
    machine = TEMPLATE.refs["RightsizingStateMachine"]
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    role = f"arn:aws:iam::{ACCOUNT}:role/states"
    boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name=machine.rsplit(":", 1)[-1], definition=definition, roleArn=role
    )
    s3.put_object(
        Bucket=BUCKET, Key="schedules/fraud-weekly.json", Body=(EVENTS / "aws-fraud-tabular.json").read_bytes()
    )
    s3.put_object(
        Bucket=BUCKET, Key="profiles/fraud-xgboost.json", Body=(EVENTS / "profiles/fraud-xgboost.json").read_bytes()
    )
    scheduled = json.loads(
        (EVENTS / "functions" / "start_scheduled_run.json").read_text().replace("REPLACE-WITH-RESULTS-BUCKET", BUCKET)
    )
    approved = json.loads((EVENTS / "functions" / "start_registry_run.json").read_text())
    unscheduled = {**scheduled, "request_uri": scheduled["request_uri"].replace("fraud-weekly", "gone")}
    unprofiled = {**approved, "detail": {**approved["detail"], "ModelPackageGroupName": "no-profile"}}
    for function, event, unknown in (
        ("StartScheduledRunFunction", scheduled, unscheduled),
        ("StartRegistryRunFunction", approved, unprofiled),
    ):
        properties = TEMPLATE.resources[function]["Properties"]
        for name, value in TEMPLATE.resolve(properties["Environment"]["Variables"]).items():
            monkeypatch.setenv(name, str(value))
        handler = load_handler(properties["CodeUri"].strip("/").rsplit("/", 1)[-1])
        with recorder.acting_as(function):
            assert handler.lambda_handler(event, context)["started"] is True
            assert handler.lambda_handler(unknown, context)["started"] is False


# --- needs per principal ---------------------------------------------------------------------------------------------


def _needs(run: FakedRun) -> dict[str, list[Need]]:
    needs: dict[str, list[Need]] = {}
    for principal, calls in run.recorder.by_principal().items():
        needs[principal] = [n for call in calls for n in needs_of(call, run.task_roles)]
    top = [{"plan": plan, "finished": run.finished} for plan in run.plans]
    items = [{"candidate": c} for plan in run.plans for c in plan["candidates"]]
    execution = {"Execution": {"Name": run.plans[0]["run_id"]}}
    needs["RightsizingStateMachine"] = state_machine_needs(
        TEMPLATE, "RightsizingStateMachine", {"top": top, "item": items}, execution, run.task_roles
    )
    sweep_input = [{"target": {"run_id": "r"}, "sweeps": {"count": 0}}]
    needs["CleanupStateMachine"] = state_machine_needs(
        TEMPLATE, "CleanupStateMachine", {"top": sweep_input, "item": []}, execution, run.task_roles
    )
    for role, role_needs in [*rule_target_needs(TEMPLATE).items(), *schedule_target_needs(TEMPLATE).items()]:
        needs.setdefault(role, []).extend(role_needs)
    return needs


def test_every_call_of_every_principal_is_granted(faked_run: FakedRun) -> None:
    principals = TEMPLATE.principals()
    needs = _needs(faked_run)
    assert set(needs) == ACTING, f"principals seen acting: {sorted(needs)}"
    gaps = {principal: missing(principals[principal], principal_needs) for principal, principal_needs in needs.items()}
    if any(gaps.values()):
        pytest.fail("template.yaml does not grant:\n" + _report(gaps), pytrace=False)


def _report(gaps: dict[str, list[Need]]) -> str:
    """One line per principal, action and call site (the first resource, and how many more)."""
    grouped: dict[tuple[str, str, str], list[Need]] = {}
    for principal, found in sorted(gaps.items()):
        for need in found:
            grouped.setdefault((principal, need.action, need.origin), []).append(need)
    lines = []
    for (principal, _, _), found in grouped.items():
        more = f" (+{len(found) - 1} more like it)" if len(found) > 1 else ""
        lines.append(f"  {principal}: {found[0].describe()}{more}")
    return "\n".join(lines)


def test_the_run_exercised_every_kind_of_call(faked_run: FakedRun) -> None:
    """The scenario itself: a refactoring that silently skips a path would make the coverage test vacuous."""
    seen = {(c.principal, c.service, c.operation) for c in faked_run.recorder.calls}
    expected = {
        ("PlanFunction", "s3", "PutObject"),
        ("PlanFunction", "service-quotas", "ListAWSDefaultServiceQuotas"),
        ("PlanFunction", "pricing", "GetProducts"),
        ("PlanFunction", "sagemaker", "DescribeEndpoint"),
        ("PlanFunction", "sagemaker", "DescribeEndpointConfig"),
        ("LoadTestTaskRole", "s3", "GetObject"),
        ("LoadTestTaskRole", "s3", "PutObject"),
        ("LoadTestTaskRole", "sagemaker-runtime", "InvokeEndpoint"),
        ("LoadTestTaskRole", "ecs", "RunTask"),
        ("LoadTestTaskRole", "ecs", "DescribeTasks"),
        ("LoadTestTaskRole", "ecs", "StopTask"),
        ("LoadTestWorkerRole", "s3", "GetObject"),
        ("LoadTestWorkerRole", "sagemaker-runtime", "InvokeEndpoint"),
        ("CollectMetricsFunction", "s3", "HeadObject"),
        ("CollectMetricsFunction", "cloudwatch", "GetMetricData"),
        ("RecommendFunction", "s3", "HeadObject"),
        ("RecommendFunction", "s3", "PutObject"),
        ("RecommendFunction", "dynamodb", "PutItem"),
        ("RecommendFunction", "dynamodb", "Query"),
        ("RunFailedFunction", "events", "PutEvents"),
        ("SweepFunction", "ecs", "ListTasks"),
        ("SweepFunction", "ecs", "StopTask"),
        ("SweepFunction", "sagemaker", "DeleteEndpoint"),
        ("SweepFunction", "sagemaker", "ListTags"),
        ("StartScheduledRunFunction", "s3", "HeadObject"),
        ("StartScheduledRunFunction", "s3", "GetObject"),
        ("StartScheduledRunFunction", "stepfunctions", "StartExecution"),
        ("StartRegistryRunFunction", "s3", "HeadObject"),
        ("StartRegistryRunFunction", "s3", "GetObject"),
        ("StartRegistryRunFunction", "stepfunctions", "StartExecution"),
    }
    assert expected <= seen, f"not exercised: {sorted(expected - seen)}"
    missing_keys = [c for c in faked_run.recorder.calls if c.operation == "HeadObject" and c.status == 404]
    assert {c.principal for c in missing_keys} == {
        "CollectMetricsFunction",
        "RecommendFunction",
        "StartScheduledRunFunction",
        "StartRegistryRunFunction",
    }


def test_every_grant_is_used_by_some_call(faked_run: FakedRun) -> None:
    """Least privilege, the other way round: an Allow statement no recorded need uses is a grant nobody needs."""
    principals = TEMPLATE.principals()
    needs = _needs(faked_run)
    unused = [
        f"  {principal}: {statement.get('Sid') or statement['Action']}"
        for principal, statements in principals.items()
        if principal in needs
        for statement in statements
        if statement.get("Effect") == "Allow" and not any(allowed([statement], n) for n in needs[principal])
    ]
    if unused:
        pytest.fail("granted but never needed:\n" + "\n".join(unused), pytrace=False)


# --- the rules themselves, on minimal policies -----------------------------------------------------------------------


def _call(service: str, operation: str, **params: Any) -> ApiCall:
    return ApiCall("p", service, operation, params, REGION, "here", status=200)


def test_head_object_needs_list_bucket_to_read_a_missing_key_as_404() -> None:
    read = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]
    gaps = missing(read, needs_of(_call("s3", "HeadObject", Bucket="b", Key="runs/r/trace.json"), {}))
    assert [(n.action, n.resource) for n in gaps] == [("s3:ListBucket", "arn:aws:s3:::b")]
    get = _call("s3", "GetObject", Bucket="b", Key="k")
    assert missing(read, needs_of(get, {})) == []  # a key that was there: GetObject alone
    get.status = 404
    assert [n.action for n in missing(read, needs_of(get, {}))] == ["s3:ListBucket"]


def test_run_task_that_tags_needs_tag_resource_and_passes_the_roles_to_ecs_only() -> None:
    definition = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/t:1"
    roles = {definition: [f"arn:aws:iam::{ACCOUNT}:role/task"]}
    call = _call("ecs", "RunTask", cluster="c", taskDefinition=definition, propagateTags="TASK_DEFINITION")
    policy: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "ecs:RunTask", "Resource": definition},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
    ]  # fmt: skip
    assert [n.action for n in missing(policy, needs_of(call, roles))] == ["ecs:TagResource", "iam:PassRole"]


def test_create_endpoint_is_refused_when_the_config_is_only_granted_with_a_request_tag_condition() -> None:
    call = _call("sagemaker", "CreateEndpoint", EndpointName="rightsize-a-c01", EndpointConfigName="rightsize-a-c01",
                 Tags=[{"Key": "rightsizing:run-id", "Value": "a"}])  # fmt: skip
    tagged_only = [
        {"Effect": "Allow", "Action": ["sagemaker:CreateEndpoint", "sagemaker:AddTags"],
         "Resource": [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/rightsize-*",
                      f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/rightsize-*"],
         "Condition": {"Null": {"aws:RequestTag/rightsizing:run-id": "false"}}},
    ]  # fmt: skip
    gaps = missing(tagged_only, needs_of(call, {}))
    assert [(n.action, n.resource.rsplit(":", 1)[-1]) for n in gaps] == [
        ("sagemaker:CreateEndpoint", "endpoint-config/rightsize-a-c01")
    ]


def test_an_integration_without_a_rule_fails_instead_of_passing_silently() -> None:
    with pytest.raises(NotImplementedError, match="glue"):
        task_needs("Crawl", {"Resource": "arn:aws:states:::glue:startJobRun.sync"}, {}, {})
    with pytest.raises(NotImplementedError, match="glue"):
        needs_of(_call("glue", "GetJob", JobName="j"), {})


def test_sam_policy_templates_match_the_installed_samtranslator() -> None:
    samtranslator = pytest.importorskip("samtranslator", reason="aws-sam-translator is not installed here")
    path = Path(samtranslator.__file__).parent / "policy_templates_data" / "policy_templates.json"
    definitions = json.loads(path.read_text())["Templates"]
    for name, definition in SAM_POLICY_TEMPLATES.items():
        assert copy.deepcopy(definitions[name]["Definition"]) == definition, name
