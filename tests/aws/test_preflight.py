"""Preflight checks: offline ones on the request, online ones against botocore Stubber (exact API shapes)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.stub import Stubber
from conftest import REPO
from stack_stubs import STACK, describe_stacks_response

from rightsizing.adapters.guard import AwsGuard
from rightsizing.adapters.preflight import offline_checks
from rightsizing.adapters.preflight_account import AwsPreflight
from rightsizing.exceptions import InvalidRequest
from rightsizing.history_budget import worst_case_events
from rightsizing.models.request import RightsizingRequest, parse_request

Stubbed = Callable[..., tuple[Any, Stubber]]  # the `stubbed` fixture (tests/conftest.py)
MakeRequest = Callable[..., RightsizingRequest]  # the `aws_request` fixture

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service-role/SageMakerExecution"
STATE_MACHINE_ARN = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:RightsizingStateMachine-abc"
BUCKET = "sagemaker-rightsizing-resultsbucket-1x2y3z"
MODEL_DATA = "s3://models-bucket/models/fraud-xgboost/model.tar.gz"
PACKAGE_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/fraud/3"
SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def fraud_request(**changes: Any) -> RightsizingRequest:
    document = json.loads((REPO / "events" / "aws-fraud-tabular.json").read_text())
    document["model"]["model_data_url"] = MODEL_DATA
    return parse_request({**document, **changes})


class Account:
    """Stubbed clients per service, made on first use, as ``AwsPreflight`` asks for them."""

    def __init__(self, stubbed: Stubbed) -> None:
        self._stubbed = stubbed
        self.clients: dict[str, Any] = {}
        self.stubs: dict[str, Stubber] = {}

    def stub(self, service: str) -> Stubber:
        if service not in self.stubs:
            self.clients[service], self.stubs[service] = self._stubbed(service)
        return self.stubs[service]

    def client(self, service: str) -> Any:
        self.stub(service)
        return self.clients[service]

    # --- the answers of a healthy account ---

    def identity(self) -> Account:
        self.stub("sts").add_response(
            "get_caller_identity",
            {"UserId": "AIDA", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ml-engineer"},
            {},
        )
        return self

    def stack(self, status: str = "UPDATE_COMPLETE", cpu: str = "4096", memory: str = "8192") -> Account:
        parameters = {
            "SageMakerExecutionRoleArn": ROLE_ARN,
            "LoadTestCpu": cpu,
            "LoadTestMemory": memory,
            "MaxParallelCandidates": "2",
        }
        outputs = {"StateMachineArn": STATE_MACHINE_ARN, "ResultsBucketName": BUCKET}
        answer = describe_stacks_response(
            outputs,
            status=status,
            parameters=parameters,
            stack_id=f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{STACK}/1",
        )
        self.stub("cloudformation").add_response("describe_stacks", answer, {"StackName": STACK})
        return self

    def quotas(self, **values: float) -> Account:
        quotas = [
            {"ServiceCode": "sagemaker", "QuotaName": f"{t} for endpoint usage", "QuotaCode": "L-1", "Value": v}
            for t, v in values.items()
        ]
        stub = self.stub("service-quotas")
        stub.add_response("list_aws_default_service_quotas", {"Quotas": quotas}, {"ServiceCode": "sagemaker"})
        stub.add_response("list_service_quotas", {"Quotas": []}, {"ServiceCode": "sagemaker"})
        return self

    def model_data(self, region: str = "us-east-1") -> Account:
        stub = self.stub("s3")
        stub.add_response("head_bucket", {"BucketRegion": region}, {"Bucket": "models-bucket"})
        if region == "us-east-1":
            key = "models/fraud-xgboost/model.tar.gz"
            stub.add_response("head_object", {"ContentLength": 42_000_000}, {"Bucket": "models-bucket", "Key": key})
        return self

    def role(self, trust: dict[str, Any] = SAGEMAKER_TRUST) -> Account:
        role = {
            "Path": "/service-role/",
            "RoleName": "SageMakerExecution",
            "RoleId": "AROAEXAMPLEROLEID0001",
            "Arn": ROLE_ARN,
            "CreateDate": "2026-01-01T00:00:00Z",
            "AssumeRolePolicyDocument": quote(json.dumps(trust)),  # IAM sends it URL-encoded
        }
        self.stub("iam").add_response("get_role", {"Role": role}, {"RoleName": "SageMakerExecution"})
        return self


FRAUD_QUOTAS = {t: 2 for t in ("ml.c5.xlarge", "ml.m5.xlarge", "ml.c6i.xlarge", "ml.c7g.xlarge", "ml.r5.xlarge")}


@pytest.fixture
def account(stubbed: Stubbed) -> Account:
    return Account(stubbed)


def _run(account: Account, request: RightsizingRequest) -> dict[str, tuple[str, str]]:
    checks, _ = AwsPreflight(account.client, "us-east-1", STACK).run(request)
    return {check.name: (check.status, check.detail) for check in checks}


# --- offline ---------------------------------------------------------------------------------------------------


def test_offline_checks_pass_the_fraud_sample() -> None:
    checks = {c.name: c for c in offline_checks(fraud_request(), "us-east-1")}
    assert [c.status for c in checks.values()] == ["ok"] * 6, checks
    worst = worst_case_events(6, 2400, 30)  # the sample: 6 benchmarks waiting up to 40 min, 30 s polls (AWS default)
    assert 10_000 < worst < 20_000
    assert f"worst case {worst:,} of the execution's 25,000 events" in checks["history events"].detail


def test_offline_checks_name_what_would_fail(aws_request: MakeRequest) -> None:
    request = aws_request(
        [{"instance_type": "ml.zz9.xlarge"}],
        payloads={"samples": ["x" * 200_000, "y" * 100_000], "files": ["/nonexistent/body.csv"]},
    )
    checks = {c.name: c for c in offline_checks(request, "eu-west-1")}
    assert checks["region"].status == "failed" and "--region us-east-1" in checks["region"].detail
    assert checks["instance types"].status == "failed"
    assert "candidates.0.instance_type: 'ml.zz9.xlarge'" in checks["instance types"].detail
    assert "did you mean" in checks["instance types"].detail
    assert (
        checks["payloads"].status == "failed" and "/nonexistent/body.csv: cannot be read" in checks["payloads"].detail
    )
    assert checks["execution input"].status == "failed"  # 300 KB of inline samples > StartExecution's 256 KiB


def test_offline_checks_refuse_an_unaffordable_poll_interval(aws_request: MakeRequest) -> None:
    candidates = [{"instance_type": t} for t in ("ml.c5.large", "ml.c5.xlarge", "ml.c5.2xlarge", "ml.c5.4xlarge")]
    request = aws_request(candidates * 1, limits={"poll_seconds": 1, "max_parallel_candidates": 4})
    checks = {c.name: c for c in offline_checks(request, "us-east-1")}
    assert checks["history events"].status == "failed"
    assert "limits.poll_seconds" in checks["history events"].detail


class FixedQuotas:
    def __init__(self, quotas: dict[str, float]) -> None:
        self.quotas = quotas

    def endpoint_usage_quotas(self) -> dict[str, float]:
        return self.quotas


def test_the_aws_guard_refuses_an_unknown_instance_type_with_suggestions(aws_request: MakeRequest) -> None:
    guard = AwsGuard(region="us-east-1", quotas=FixedQuotas({"ml.c5.xlarge": 1}))  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="did you mean") as refused:
        guard.check(aws_request([{"instance_type": "ml.c5.xlarge"}, {"instance_type": "ml.banana.9xlarge"}]))
    assert refused.value.fields == ("candidates.1.instance_type",)  # not the quota check's "no quota entry"


def test_the_aws_guard_accepts_a_type_newer_than_its_botocore(aws_request: MakeRequest) -> None:
    # The Lambda runtime's botocore lags: a type the region's quotas list is offered, whatever botocore says.
    guard = AwsGuard(region="us-east-1", quotas=FixedQuotas({"ml.zz9.xlarge": 1}))  # type: ignore[arg-type]
    guard.check(aws_request([{"instance_type": "ml.zz9.xlarge"}]))


# --- online, a healthy account -----------------------------------------------------------------------------------


def test_every_online_check_passes_on_a_ready_account(account: Account) -> None:
    account.identity().stack().quotas(**FRAUD_QUOTAS).model_data().role()
    preflight = AwsPreflight(account.client, "us-east-1", STACK)
    checks, settings = preflight.run(fraud_request())
    assert [(c.name, c.status) for c in checks] == [
        ("AWS credentials", "ok"),
        ("stack", "ok"),
        ("instance types offered", "ok"),
        ("endpoint quotas", "ok"),
        ("model data", "ok"),
        ("SageMaker execution role", "ok"),
    ]
    details = {c.name: c.detail for c in checks}
    assert "ml.c6i.xlarge 2 of 2" in details["endpoint quotas"]  # two grid variants, three at a time
    assert "iam:PassRole" in details["SageMaker execution role"] and "run time" in details["SageMaker execution role"]
    assert settings is not None
    assert (settings.load_test_task.cpu_units, settings.load_test_task.memory_mib) == (4096, 8192)
    assert settings.max_parallel_candidates == 2 and settings.results_bucket == BUCKET


# --- online, what fails -------------------------------------------------------------------------------------------


def test_short_and_missing_quotas_fail_separately(account: Account) -> None:
    quotas = {**FRAUD_QUOTAS, "ml.c6i.xlarge": 1}
    del quotas["ml.c7g.xlarge"]  # not offered in the region: no quota entry at all
    account.identity().stack().quotas(**quotas).model_data().role()
    checks = _run(account, fraud_request())
    assert checks["instance types offered"] == (
        "failed",
        "not offered for real-time endpoints in us-east-1 (no '<type> for endpoint usage' quota): ml.c7g.xlarge",
    )
    status, detail = checks["endpoint quotas"]
    assert status == "failed" and "'ml.c6i.xlarge for endpoint usage' is 1, the run needs 2" in detail


def test_missing_stack_leaves_the_role_unchecked(account: Account) -> None:
    account.identity().quotas(**FRAUD_QUOTAS).model_data()
    account.stub("cloudformation").add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {STACK} does not exist",
        expected_params={"StackName": STACK},
    )
    checks = _run(account, fraud_request())
    assert checks["stack"] == ("failed", f"no stack '{STACK}' in us-east-1: deploy it first (sam deploy)")
    assert checks["SageMaker execution role"][0] == "not checked"


def test_a_stack_being_rolled_back_fails(account: Account) -> None:
    account.identity().stack(status="ROLLBACK_COMPLETE").quotas(**FRAUD_QUOTAS).model_data().role()
    assert _run(account, fraud_request())["stack"] == ("failed", f"stack '{STACK}' is ROLLBACK_COMPLETE")


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        ("404", "failed", "no such object"),
        ("403", "not checked", "S3 also answers 403 for a missing key without s3:ListBucket"),
    ],
)
def test_model_data_missing_or_unreadable(account: Account, code: str, status: str, words: str) -> None:
    account.identity().stack().quotas(**FRAUD_QUOTAS).role()
    s3 = account.stub("s3")
    s3.add_response("head_bucket", {"BucketRegion": "us-east-1"}, {"Bucket": "models-bucket"})
    s3.add_client_error("head_object", service_error_code=code, http_status_code=int(code))
    got_status, detail = _run(account, fraud_request())["model data"]
    assert got_status == status and words in detail


def test_model_data_in_another_region_fails(account: Account) -> None:
    account.identity().stack().quotas(**FRAUD_QUOTAS).model_data(region="eu-west-1").role()
    status, detail = _run(account, fraud_request())["model data"]
    assert status == "failed" and "is in eu-west-1" in detail and "endpoint's region us-east-1" in detail


def test_a_role_sagemaker_cannot_assume_fails(account: Account) -> None:
    lambda_trust = {**SAGEMAKER_TRUST, "Statement": [{**SAGEMAKER_TRUST["Statement"][0]}]}
    lambda_trust["Statement"][0]["Principal"] = {"Service": ["lambda.amazonaws.com"]}
    account.identity().stack().quotas(**FRAUD_QUOTAS).model_data().role(trust=lambda_trust)
    status, detail = _run(account, fraud_request())["SageMaker execution role"]
    assert status == "failed" and "does not trust sagemaker.amazonaws.com" in detail


def test_a_role_the_caller_may_not_read_is_not_checked(account: Account) -> None:
    account.identity().stack().quotas(**FRAUD_QUOTAS).model_data()
    account.stub("iam").add_client_error("get_role", service_error_code="AccessDenied", http_status_code=403)
    status, detail = _run(account, fraud_request())["SageMaker execution role"]
    assert status == "not checked" and "AccessDenied" in detail


def test_bad_credentials_leave_everything_else_unchecked(account: Account) -> None:
    account.stub("sts").add_client_error(
        "get_caller_identity",
        service_error_code="InvalidClientTokenId",
        service_message="The security token included in the request is invalid.",
        http_status_code=403,
    )
    checks = _run(account, fraud_request())
    assert checks["AWS credentials"][0] == "failed"
    assert {status for name, (status, _) in checks.items() if name != "AWS credentials"} == {"not checked"}
    assert len(checks) == 6


@pytest.mark.parametrize(("approval", "expected"), [("Approved", "ok"), ("PendingManualApproval", "failed")])
def test_versioned_model_packages_must_be_approved(
    account: Account, aws_request: MakeRequest, approval: str, expected: str
) -> None:
    account.identity().stack().quotas(**{"ml.c5.xlarge": 1}).role()
    package = {
        "ModelPackageName": "fraud",
        "ModelPackageArn": PACKAGE_ARN,
        "ModelPackageGroupName": "fraud",
        "CreationTime": "2026-01-01T00:00:00Z",
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": approval,
    }
    account.stub("sagemaker").add_response("describe_model_package", package, {"ModelPackageName": PACKAGE_ARN})
    request = aws_request(
        [{"instance_type": "ml.c5.xlarge"}], model={"type": "model_package", "model_package_arn": PACKAGE_ARN}
    )
    status, detail = _run(account, request)["model package"]
    assert status == expected, detail
    if expected == "failed":  # CreateModel deploys a versioned package only once it is Approved
        assert (
            detail
            == f"{PACKAGE_ARN} is PendingManualApproval: a versioned model package must be Approved to be deployed"
        )


def test_a_model_package_of_another_region_fails(account: Account, aws_request: MakeRequest) -> None:
    account.identity().stack().quotas(**{"ml.c5.xlarge": 1}).role()
    arn = PACKAGE_ARN.replace("us-east-1", "eu-west-1")
    request = aws_request(
        [{"instance_type": "ml.c5.xlarge"}], model={"type": "model_package", "model_package_arn": arn}
    )
    status, detail = _run(account, request)["model package"]
    assert status == "failed" and "model packages are regional" in detail


def test_payload_files_in_s3_must_be_in_the_results_bucket(account: Account, aws_request: MakeRequest) -> None:
    account.identity().stack().quotas(**{"ml.c5.xlarge": 1}).role()
    account.stub("s3").add_response(
        "head_object", {"ContentLength": 7_000_000}, {"Bucket": BUCKET, "Key": "payloads/big.json"}
    )
    files = [f"s3://{BUCKET}/payloads/big.json", "s3://elsewhere/payloads/one.json"]
    request = aws_request([{"instance_type": "ml.c5.xlarge"}], payloads={"files": files})
    status, detail = _run(account, request)["payload files in S3"]
    assert status == "failed"
    assert f"s3://{BUCKET}/payloads/big.json: 7.0 MB is above InvokeEndpoint's 6 MB body limit" in detail
    assert f"s3://elsewhere/payloads/one.json: the plan function may read only the results bucket s3://{BUCKET}/" in (
        detail
    )


def test_existing_endpoints_are_described(account: Account, aws_request: MakeRequest) -> None:
    account.identity().stack().role()
    account.stub("sagemaker").add_client_error(
        "describe_endpoint",
        service_error_code="ValidationException",
        service_message="Could not find endpoint prod-fraud",
        expected_params={"EndpointName": "prod-fraud"},
    )
    request = aws_request([{"instance_type": "ml.c5.xlarge", "endpoint_name": "prod-fraud"}])
    checks = _run(account, request)
    assert checks["instance types offered"][0] == "ok"  # nothing to deploy: no quota asked
    assert checks["existing endpoints"] == (
        "failed",
        "candidates.0.endpoint_name: no endpoint named 'prod-fraud' in this region",
    )


# --- payload archives -------------------------------------------------------------------------------------------

ARCHIVE = f"s3://{BUCKET}/payloads/samples.tar.gz"


def test_a_payload_archive_in_s3_is_checked_by_its_size(account: Account, aws_request: MakeRequest) -> None:
    account.identity().stack().quotas(**{"ml.c5.xlarge": 1}).role()
    s3 = account.stub("s3")
    s3.add_response("head_object", {"ContentLength": 900}, {"Bucket": BUCKET, "Key": "payloads/one.png"})
    s3.add_response("head_object", {"ContentLength": 3_000_000}, {"Bucket": BUCKET, "Key": "payloads/samples.tar.gz"})
    payloads = {"content_type": "image/png", "files": [f"s3://{BUCKET}/payloads/one.png"], "archive": ARCHIVE}
    request = aws_request([{"instance_type": "ml.c5.xlarge"}], payloads=payloads)

    status, detail = _run(account, request)["payload files in S3"]

    assert status == "ok", detail
    assert detail == "1 file(s), each within 6 MB; the archive within 32 MB (its members are checked by the plan step)"
    s3.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("answer", "status", "words"),
    [
        ({"ContentLength": 40_000_000}, "failed", f"{ARCHIVE}: 40.0 MB is above the payload archive's 32 MB"),
        ("404", "failed", f"{ARCHIVE}: no such object"),
        ("403", "not checked", "your credentials may not make this call"),
    ],
)
def test_a_payload_archive_in_s3_missing_too_big_or_unreadable(
    account: Account, aws_request: MakeRequest, answer: Any, status: str, words: str
) -> None:
    account.identity().stack().quotas(**{"ml.c5.xlarge": 1}).role()
    s3 = account.stub("s3")
    if isinstance(answer, dict):
        s3.add_response("head_object", answer, {"Bucket": BUCKET, "Key": "payloads/samples.tar.gz"})
    else:
        s3.add_client_error("head_object", service_error_code=answer, http_status_code=int(answer))
    request = aws_request([{"instance_type": "ml.c5.xlarge"}], payloads={"archive": ARCHIVE})

    got_status, detail = _run(account, request)["payload files in S3"]

    assert got_status == status and words in detail, detail


def test_without_credentials_a_payload_archive_is_not_checked(account: Account, aws_request: MakeRequest) -> None:
    account.stub("sts").add_client_error("get_caller_identity", service_error_code="InvalidClientTokenId")
    request = aws_request([{"instance_type": "ml.c5.xlarge"}], payloads={"archive": ARCHIVE})
    checks = _run(account, request)
    assert checks["payload files in S3"][0] == "not checked"


def test_a_local_archive_is_read_offline_member_by_member(tmp_path: Path, aws_request: MakeRequest) -> None:
    png = (REPO / "events" / "payloads" / "images" / "disc.png").read_bytes()
    good, bad = tmp_path / "good.tar.gz", tmp_path / "bad.tar.gz"
    for path, names in ((good, ["a.png", "b.png"]), (bad, ["a.png", "../b.png"])):
        with tarfile.open(path, "w:gz") as archive:
            for name in names:
                info = tarfile.TarInfo(name)
                info.size = len(png)
                archive.addfile(info, io.BytesIO(png))

    def check(path: Path) -> Any:
        payloads = {"content_type": "image/png", "archive": str(path)}
        request = aws_request([{"instance_type": "ml.c5.xlarge"}], payloads=payloads)
        return {c.name: c for c in offline_checks(request, "us-east-1")}["payloads"]

    assert check(good).status == "ok" and "2 local file(s) and archive member(s) readable" in check(good).detail
    assert check(bad).status == "failed" and "bad.tar.gz: member '../b.png' has an absolute path" in check(bad).detail
