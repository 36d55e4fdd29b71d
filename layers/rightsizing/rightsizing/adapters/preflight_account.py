"""The preflight's online checks: what the account says, read with the caller's credentials before a run.

The deployed stack (its parameters and outputs), Service Quotas, the model data or package, the stack's SageMaker
execution role, payload files in S3 and existing endpoints. What stops a check from being made (no network, access
denied to the caller, throttling) makes it "not checked" with the reason: the caller's credentials are not the
stack's roles, so only what both would see is reported as failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from rightsizing.adapters.clients import client_config
from rightsizing.adapters.errors import ACCESS_DENIED_CODES, TRANSIENT_CODES, error_code, error_message
from rightsizing.adapters.preflight import Check, all_not_checked, failed, not_checked, ok, s3_payloads
from rightsizing.adapters.s3 import split_s3_uri
from rightsizing.adapters.sagemaker import NOT_FOUND_MESSAGE, SageMakerEndpoints
from rightsizing.adapters.service_quotas import ServiceQuotas, check_endpoint_quotas, instances_needed, quota_name
from rightsizing.exceptions import AwsAccessDenied, AwsThrottled, InvalidRequest, QuotaExceeded
from rightsizing.models.estimate import LoadTestTaskSize
from rightsizing.models.request import (
    MAX_ARCHIVE_BYTES,
    MAX_PAYLOAD_BYTES,
    ContainerModelSource,
    ModelPackageSource,
    RightsizingRequest,
)

DEFAULT_STACK_NAME = "sagemaker-rightsizing"  # samconfig.toml's stack_name
USABLE_STACK_STATUSES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"})
SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
PRICING_API_REGION = "us-east-1"


class StackSettings(BaseModel):
    """What the deployed stack says about how runs are made (its parameters and outputs)."""

    name: str
    state_machine_arn: str | None = None
    results_bucket: str | None = None
    execution_role_arn: str | None = None
    max_parallel_candidates: int | None = None
    load_test_task: LoadTestTaskSize = LoadTestTaskSize()

    @classmethod
    def from_stack(cls, stack: dict[str, Any]) -> StackSettings:
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
        task = LoadTestTaskSize()
        if parameters.get("LoadTestCpu") and parameters.get("LoadTestMemory"):
            cpu, memory = int(parameters["LoadTestCpu"]), int(parameters["LoadTestMemory"])
            task = LoadTestTaskSize(
                cpu_units=cpu,
                memory_mib=memory,
                source=f"stack {stack['StackName']} (LoadTestCpu {cpu}, LoadTestMemory {memory})",
            )
        parallel = parameters.get("MaxParallelCandidates")
        return cls(
            name=stack["StackName"],
            state_machine_arn=outputs.get("StateMachineArn"),
            results_bucket=outputs.get("ResultsBucketName"),
            execution_role_arn=parameters.get("SageMakerExecutionRoleArn"),
            max_parallel_candidates=int(parallel) if parallel else None,
            load_test_task=task,
        )


Clients = Callable[[str], Any]


def session_clients(session: Any, region: str) -> Clients:
    """``service -> client`` from a boto3 session, with short timeouts (the Price List API is asked in us-east-1)."""
    from botocore.config import Config

    # A preflight must answer in seconds, also offline: short timeouts, one retry.
    config = client_config(
        Config(connect_timeout=5, read_timeout=15, retries={"mode": "standard", "total_max_attempts": 2})
    )
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            where = PRICING_API_REGION if service == "pricing" else region
            made[service] = session.client(service, region_name=where, config=config)
        return made[service]

    return client


class AwsPreflight:
    """The online checks, with the caller's credentials; ``clients`` makes a client per service."""

    def __init__(self, clients: Clients, region: str, stack_name: str = DEFAULT_STACK_NAME) -> None:
        self._clients = clients
        self._region = region
        self._stack_name = stack_name
        self._settings: StackSettings | None = None  # read by the stack check, used by the later ones

    def run(self, request: RightsizingRequest) -> tuple[list[Check], StackSettings | None]:
        checks = [_attempt("AWS credentials", self._identity)]
        if checks[0].status != "ok":  # nothing else can be asked
            return checks + all_not_checked(request, checks[0].detail)[1:], None
        checks.append(_attempt("stack", self._stack))
        stack = self._settings
        checks.extend(self._quota_checks(request))
        if isinstance(request.model, ModelPackageSource):
            source = request.model
            checks.append(_attempt("model package", lambda: self._model_package(source)))
        elif isinstance(request.model, ContainerModelSource):
            container = request.model
            checks.append(_attempt("model data", lambda: self._model_data(container)))
        checks.append(_attempt("SageMaker execution role", lambda: self._execution_role(stack)))
        s3_files = s3_payloads(request)
        if s3_files:
            archive = request.payloads.archive
            checks.append(_attempt("payload files in S3", lambda: self._s3_payloads(s3_files, stack, archive)))
        if any(spec.endpoint_name for spec in request.candidates):
            checks.append(_attempt("existing endpoints", lambda: self._existing_endpoints(request)))
        return checks, stack

    def _identity(self) -> Check:
        identity = self._clients("sts").get_caller_identity()
        return ok("AWS credentials", f"account {identity['Account']} as {identity['Arn']}")

    def _stack(self) -> Check:
        name = self._stack_name
        try:
            stacks = self._clients("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as e:
            if error_code(e) == "ValidationError" and "does not exist" in error_message(e):
                return failed("stack", f"no stack '{name}' in {self._region}: deploy it first (sam deploy)")
            raise
        stack = stacks[0]
        settings = self._settings = StackSettings.from_stack(stack)
        status = stack.get("StackStatus", "?")
        if status not in USABLE_STACK_STATUSES:
            return failed("stack", f"stack '{name}' is {status}")
        if not settings.state_machine_arn:
            return failed("stack", f"stack '{name}' has no StateMachineArn output: is it this service's?")
        return ok("stack", f"'{name}' {status}: {settings.state_machine_arn}")

    def _quota_checks(self, request: RightsizingRequest) -> list[Check]:
        needed = instances_needed(request)
        if not needed:
            return [
                ok("instance types offered", "nothing to deploy: existing endpoints only"),
                ok("endpoint quotas", "nothing to deploy: existing endpoints only"),
            ]
        quotas: dict[str, float] = {}

        def read() -> Check:
            quotas.update(ServiceQuotas(client=self._clients("service-quotas")).endpoint_usage_quotas())
            missing = sorted(set(needed) - set(quotas))
            if missing:
                return failed(
                    "instance types offered",
                    f"not offered for real-time endpoints in {self._region} (no '{quota_name('<type>')}' "
                    f"quota): {', '.join(missing)}",
                )
            return ok("instance types offered", f"every candidate type has an endpoint-usage quota in {self._region}")

        offered = _attempt("instance types offered", read)
        if offered.status == "not checked":
            return [offered, not_checked("endpoint quotas", offered.detail)]
        return [offered, self._quota_sufficient(request, needed, quotas)]

    @staticmethod
    def _quota_sufficient(request: RightsizingRequest, needed: dict[str, int], quotas: dict[str, float]) -> Check:
        # Types not offered are the other check's failure: count them as just enough here so only shortfalls show.
        known = {**{t: float(n) for t, n in needed.items()}, **quotas}
        try:
            check_endpoint_quotas(request, known)
        except QuotaExceeded as e:
            return failed("endpoint quotas", str(e))
        summary = ", ".join(f"{t} {needed[t]} of {quotas[t]:g}" for t in sorted(needed) if t in quotas)
        return ok("endpoint quotas", f"instances at once / quota: {summary or 'none offered'}")

    def _model_data(self, source: ContainerModelSource) -> Check:
        name = "model data"
        url = source.model_data_url
        if url is None:
            return ok(name, "none: the image carries the model")
        if not url.startswith("s3://"):
            return not_checked(name, f"{url}: only s3:// model data is checked")
        bucket, key = split_s3_uri(url)
        s3 = self._clients("s3")
        try:
            bucket_region = s3.head_bucket(Bucket=bucket).get("BucketRegion")
        except ClientError as e:
            if error_code(e) in {"404", "NoSuchBucket", "NotFound"}:
                return failed(name, f"{url}: no bucket '{bucket}'")
            bucket_region = None  # 403: no s3:ListBucket for the caller; the object check below still tells
        if bucket_region and bucket_region != self._region:
            return failed(
                name, f"{url} is in {bucket_region}: SageMaker needs model data in the endpoint's region {self._region}"
            )
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as e:
            code = error_code(e)
            if code in {"404", "NoSuchKey", "NotFound"}:
                return failed(name, f"{url}: no such object")
            if code in {"403", *ACCESS_DENIED_CODES}:
                return not_checked(
                    name,
                    f"{url}: your credentials may not read it (403; S3 also answers 403 for a missing key without "
                    "s3:ListBucket); SageMaker reads it with the execution role",
                )
            raise
        return ok(
            name,
            f"{url} ({head.get('ContentLength', 0) / 1e6:.1f} MB) readable by you; SageMaker reads it "
            "with the execution role",
        )

    def _model_package(self, source: ModelPackageSource) -> Check:
        name = "model package"
        arn = source.model_package_arn
        arn_region = arn.split(":")[3]
        if arn_region != self._region:
            return failed(name, f"{arn} is in {arn_region}; model packages are regional: use its {self._region} ARN")
        try:
            package = self._clients("sagemaker").describe_model_package(ModelPackageName=arn)
        except ClientError as e:
            if error_code(e) == "ValidationException" and (
                NOT_FOUND_MESSAGE in error_message(e) or "does not exist" in error_message(e)
            ):
                return failed(name, f"{arn}: not found (or not subscribed, for AWS Marketplace packages)")
            raise
        status = package.get("ModelPackageStatus")
        if status != "Completed":
            return failed(name, f"{arn} is {status}, not Completed")
        approval = package.get("ModelApprovalStatus")
        if package.get("ModelPackageGroupName") and approval != "Approved":
            return failed(name, f"{arn} is {approval}: a versioned model package must be Approved to be deployed")
        return ok(name, f"{arn}: Completed{', Approved' if approval else ''}")

    def _execution_role(self, stack: StackSettings | None) -> Check:
        name = "SageMaker execution role"
        if stack is None or not stack.execution_role_arn:
            return not_checked(name, "the stack (and so its SageMakerExecutionRoleArn parameter) is unknown")
        arn = stack.execution_role_arn
        try:
            role = self._clients("iam").get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]
        except ClientError as e:
            if error_code(e) == "NoSuchEntity":
                return failed(name, f"{arn}: no such role (redeploy the stack with an existing role)")
            raise
        if not _trusts_sagemaker(role.get("AssumeRolePolicyDocument")):
            return failed(name, f"{arn} does not trust {SAGEMAKER_PRINCIPAL}: SageMaker cannot assume it")
        return ok(
            name,
            f"{arn} exists and trusts {SAGEMAKER_PRINCIPAL}; that the stack may pass it (iam:PassRole) is proven "
            "only at run time, by CreateModel",
        )

    def _s3_payloads(self, uris: list[str], stack: StackSettings | None, archive: str | None = None) -> Check:
        name = "payload files in S3"
        problems: list[str] = []
        s3 = self._clients("s3")
        for uri in uris:
            bucket, key = split_s3_uri(uri)
            if stack and stack.results_bucket and bucket != stack.results_bucket:
                problems.append(
                    f"{uri}: the plan function may read only the results bucket s3://{stack.results_bucket}/: "
                    "copy it there"
                )
                continue
            try:
                size = int(s3.head_object(Bucket=bucket, Key=key).get("ContentLength", 0))
            except ClientError as e:
                if error_code(e) in {"404", "NoSuchKey", "NotFound"}:
                    problems.append(f"{uri}: no such object")
                    continue
                raise
            if uri == archive:
                if size > MAX_ARCHIVE_BYTES:
                    problems.append(
                        f"{uri}: {size / 1e6:.1f} MB is above the payload archive's {MAX_ARCHIVE_BYTES // 10**6} MB"
                    )
            elif size > MAX_PAYLOAD_BYTES:
                problems.append(f"{uri}: {size / 1e6:.1f} MB is above InvokeEndpoint's 6 MB body limit")
        if problems:
            return failed(name, "; ".join(problems))
        files = len(uris) - int(archive in uris)
        parts = [f"{files} file(s), each within 6 MB"] if files else []
        if archive in uris:
            parts.append(
                f"the archive within {MAX_ARCHIVE_BYTES // 10**6} MB (its members are checked by the plan step)"
            )
        return ok(name, "; ".join(parts))

    def _existing_endpoints(self, request: RightsizingRequest) -> Check:
        endpoints = SageMakerEndpoints(client=self._clients("sagemaker"))
        problems: list[str] = []
        for index, spec in enumerate(request.candidates):
            if spec.endpoint_name:
                try:
                    endpoints.check_existing(
                        f"candidates.{index}.endpoint_name", spec.endpoint_name, spec.instance_type
                    )
                except InvalidRequest as e:
                    problems.append(e.details)
        if problems:
            return failed("existing endpoints", "; ".join(problems))
        return ok("existing endpoints", "InService, one variant on one instance of the stated type")


def _trusts_sagemaker(document: Any) -> bool:
    """Whether a trust policy lets sagemaker.amazonaws.com assume the role (IAM returns it URL-encoded JSON)."""
    if isinstance(document, str):
        document = json.loads(unquote(document))
    statements = (document or {}).get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        services = (
            statement.get("Principal", {}).get("Service", []) if isinstance(statement.get("Principal"), dict) else []
        )
        actions = [actions] if isinstance(actions, str) else actions
        services = [services] if isinstance(services, str) else services
        if (
            statement.get("Effect") == "Allow"
            and SAGEMAKER_PRINCIPAL in services
            and any(a in {"sts:AssumeRole", "sts:*", "*"} for a in actions)
        ):
            return True
    return False


def _attempt(name: str, check: Callable[[], Check]) -> Check:
    """Run one online check; what stops it from being made becomes "not checked" with the reason."""
    try:
        return check()
    except (AwsAccessDenied, AwsThrottled) as e:
        return not_checked(name, str(e))
    except ClientError as e:
        code = error_code(e)
        if code in ACCESS_DENIED_CODES or code == "403":
            return not_checked(name, f"your credentials may not make this call ({code}: {error_message(e)})")
        if code in TRANSIENT_CODES:
            return not_checked(name, f"AWS was busy ({code}); try again")
        return failed(name, f"{code}: {error_message(e)}")
    except BotoCoreError as e:  # NoCredentialsError, EndpointConnectionError, timeouts, ...
        return not_checked(name, f"{type(e).__name__}: {e}")
