"""Every AWS call the code makes, recorded as it is made, and the IAM authorisations each one needs.

``CallRecorder`` hooks every botocore client created while it is installed (``before-parameter-build``: the API
parameters as the caller gave them; ``after-call``: the HTTP status) and attributes each call to the principal the
test says is acting. ``record_invocation`` does the same for the load generator's InvokeEndpoint requests, which
are signed by its own SigV4 signer and sent by Locust, not by botocore.

``needs_of`` turns a call into IAM needs: the call's action on the resource its parameters name (the ARN shapes of
the Service Authorization Reference), plus what IAM checks at run time beyond the call's own action:

- S3 HeadObject (and a GetObject that found no key) needs ``s3:ListBucket`` on the bucket: without it S3 answers a
  missing key with 403, not 404 (S3 API reference, HeadObject/GetObject "Permissions").
- ECS RunTask with ``tags`` or ``propagateTags`` needs ``ecs:TagResource`` with ``ecs:CreateAction`` RunTask
  (ECS developer guide, "Grant permission to tag resources on creation"), and ``iam:PassRole`` on the task
  definition's task and execution roles, passed to ``ecs-tasks.amazonaws.com``.
- SageMaker Create* with ``Tags`` needs ``sagemaker:AddTags`` on the new resource; CreateModel needs
  ``iam:PassRole`` on its execution role, passed to ``sagemaker.amazonaws.com``. CreateEndpoint is authorised on the
  endpoint *and* on its endpoint config (SageMaker API permissions reference); the request's tags are condition
  context only for the endpoint being created, not for the config it reads.

A call this module has no rule for fails the test (``NotImplementedError``): a new call gets modelled, not skipped.
"""

from __future__ import annotations

import copy
import re
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import botocore.session
from botocore.awsrequest import AWSResponse
from iam_eval import ContextValue, Need
from iam_template import ACCOUNT, PARTITION, REPO

# botocore service name -> IAM service prefix, where they differ
IAM_PREFIX = {"service-quotas": "servicequotas", "sagemaker-runtime": "sagemaker", "stepfunctions": "states"}
# API operations authorised by an action of another name
ACTION_OF = {("s3", "HeadObject"): "s3:GetObject", ("s3", "ListObjectsV2"): "s3:ListBucket"}
# Operations IAM authorises on "*" only (no resource-level permissions)
UNSCOPED = {
    ("cloudwatch", "GetMetricData"),
    ("pricing", "GetProducts"),
    ("service-quotas", "ListServiceQuotas"),
    ("service-quotas", "ListAWSDefaultServiceQuotas"),
    ("sagemaker", "ListEndpoints"),
    ("sagemaker", "ListEndpointConfigs"),
    ("sagemaker", "ListModels"),
}
SAGEMAKER_NAMES = {"EndpointName": "endpoint", "EndpointConfigName": "endpoint-config", "ModelName": "model"}
SAGEMAKER_CREATES = {
    "CreateModel": "ModelName",
    "CreateEndpointConfig": "EndpointConfigName",
    "CreateEndpoint": "EndpointName",
}
MISSING_KEY_RULE = "S3 answers a missing key with 404 only to callers allowed s3:ListBucket, 403 otherwise"


@dataclass
class ApiCall:
    principal: str
    service: str  # botocore's service name: s3, sagemaker, sagemaker-runtime, ecs, service-quotas, …
    operation: str  # the API operation: GetObject, RunTask, …
    params: dict[str, Any]
    region: str
    origin: str
    status: int | None = None  # HTTP status of the answer (None: not answered, e.g. a refused parameter)


def call_origin() -> str:
    """The innermost frame of the project's own code (not tests, not the SDK) on the current stack."""
    project = [
        frame
        for frame in traceback.extract_stack()
        if frame.filename.startswith(str(REPO)) and "/tests/" not in frame.filename
    ]
    frames = project or [f for f in traceback.extract_stack() if f.filename.startswith(str(REPO))]
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{frame.filename.removeprefix(str(REPO) + '/')}:{frame.lineno} {frame.name}"


class CallRecorder:
    """Install with ``install(monkeypatch)``; ``acting_as(principal)`` attributes calls made meanwhile.

    ``canned``: answers for services no local fake models (the Price List API, Service Quotas), keyed by (service,
    operation); each gets the call's API parameters and returns the parsed response.
    """

    def __init__(self, canned: Mapping[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] | None = None):
        self.calls: list[ApiCall] = []
        self.principal: str | None = None
        self._canned = dict(canned or {})

    def install(self, monkeypatch: Any) -> None:
        original = botocore.session.Session.create_client
        recorder = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            recorder.attach(client.meta.events)
            return client

        monkeypatch.setattr(botocore.session.Session, "create_client", create_client)

    def attach(self, events: Any) -> None:
        events.register("before-parameter-build", self._record)
        events.register_first("before-call", self._answer)
        events.register("after-call", self._answered)

    @contextmanager
    def acting_as(self, principal: str) -> Iterator[None]:
        previous, self.principal = self.principal, principal
        try:
            yield
        finally:
            self.principal = previous

    def add(self, call: ApiCall) -> None:
        self.calls.append(call)

    def _record(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self.principal is None:
            return  # the test's own set-up calls
        call = ApiCall(
            principal=self.principal,
            service=model.service_model.service_name,
            operation=model.name,
            params=copy.deepcopy({k: v for k, v in params.items() if k != "Body"}),
            region=context.get("client_region") or "",
            origin=call_origin(),
        )
        context["iam_call"] = call
        self.calls.append(call)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        answer = self._canned.get((model.service_model.service_name, model.name))
        call = context.get("iam_call")
        if answer is None or call is None:
            return None
        parsed = answer(call.params)
        parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": 200})
        return AWSResponse("https://canned.invalid", 200, {}, None), parsed

    def _answered(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        call = context.get("iam_call")
        if call is not None:
            call.status = http_response.status_code

    def by_principal(self) -> dict[str, list[ApiCall]]:
        grouped: dict[str, list[ApiCall]] = {}
        for call in self.calls:
            grouped.setdefault(call.principal, []).append(call)
        return grouped


def record_invocation(recorder: CallRecorder, principal: str, target: Any, payloads: Sequence[str], content_type: str):
    """The load generator's InvokeEndpoint, as its signer signs it: the operation is found by matching the request
    path against sagemaker-runtime's model, the region and service from the signature's credential scope."""
    from rightsizing_loadtest.endpoint import invocations_for

    invocations = invocations_for(target, payloads, content_type)
    headers = invocations.headers_for_index(0)
    scope = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request", headers["Authorization"])
    assert scope, headers["Authorization"]
    region, signing_service = scope.groups()
    service_model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    assert signing_service == service_model.signing_name
    for name in service_model.operation_names:
        operation = service_model.operation_model(name)
        template = operation.http["requestUri"].split("?")[0]
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        found = re.fullmatch(regex, invocations.path)
        if found and operation.http["method"] == "POST":
            recorder.add(
                ApiCall(principal, "sagemaker-runtime", name, found.groupdict(), region, call_origin(), status=200)
            )
            return
    raise AssertionError(f"no sagemaker-runtime operation serves POST {invocations.path} ({urlparse(target.base_url)})")


# --- needs ---------------------------------------------------------------------------------------------------------


def _sagemaker_arn(region: str, kind: str, name: str) -> str:
    return f"arn:{PARTITION}:sagemaker:{region}:{ACCOUNT}:{kind}/{name.lower()}"  # SageMaker ARNs are lower-case


def _ecs_arn(region: str, kind: str, name: str) -> str:
    return name if name.startswith("arn:") else f"arn:{PARTITION}:ecs:{region}:{ACCOUNT}:{kind}/{name}"


def _cluster_name(cluster: str) -> str:
    return cluster.rsplit("/", 1)[-1]


def _task_arns(region: str, cluster: str, tasks: Sequence[str]) -> list[str]:
    return [_ecs_arn(region, "task", f"{_cluster_name(cluster)}/{task}") for task in tasks]


def _request_tags(tags: Sequence[Mapping[str, str]], key: str = "Key", value: str = "Value") -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {f"aws:RequestTag/{t[key]}": t.get(value, "") for t in tags}
    context["aws:TagKeys"] = [t[key] for t in tags]
    return context


def _s3_needs(call: ApiCall, origin: str) -> list[Need]:
    bucket = call.params["Bucket"]
    action = ACTION_OF.get(("s3", call.operation), f"s3:{call.operation}")
    key = call.params.get("Key")
    resource = f"arn:{PARTITION}:s3:::{bucket}" + (f"/{key}" if key is not None else "")
    needs = [Need(action, resource, {}, origin)]
    if call.operation == "HeadObject" or (call.operation == "GetObject" and call.status == 404):
        needs.append(Need("s3:ListBucket", f"arn:{PARTITION}:s3:::{bucket}", {}, origin, MISSING_KEY_RULE))
    return needs


def _sagemaker_needs(call: ApiCall, origin: str) -> list[Need]:
    params, region, op = call.params, call.region, call.operation
    action = f"sagemaker:{op}"
    if op == "ListTags":
        return [Need(action, params["ResourceArn"], {}, origin)]
    if op in SAGEMAKER_CREATES:
        created = SAGEMAKER_CREATES[op]
        arn = _sagemaker_arn(region, SAGEMAKER_NAMES[created], params[created])
        tags = _request_tags(params.get("Tags", []))
        needs = [Need(action, arn, tags, origin)]
        if op == "CreateEndpoint":  # authorised on the config it reads too; the request's tags are not its context
            config = _sagemaker_arn(region, "endpoint-config", params["EndpointConfigName"])
            needs.append(Need(action, config, {}, origin, "CreateEndpoint is authorised on its endpoint config too"))
        if params.get("Tags"):
            needs.append(Need("sagemaker:AddTags", arn, tags, origin, "SageMaker tags on create with AddTags"))
        if op == "CreateModel":
            needs.append(
                Need(
                    "iam:PassRole",
                    params["ExecutionRoleArn"],
                    {"iam:PassedToService": "sagemaker.amazonaws.com"},
                    origin,
                    "CreateModel passes its execution role to SageMaker",
                )
            )
        return needs
    names = [(param, kind) for param, kind in SAGEMAKER_NAMES.items() if param in params]
    if len(names) != 1:
        raise NotImplementedError(f"no resource rule for sagemaker {op} with {sorted(params)}")
    param, kind = names[0]
    return [Need(action, _sagemaker_arn(region, kind, params[param]), {}, origin)]


def _ecs_needs(call: ApiCall, origin: str, task_roles: Mapping[str, Sequence[str]]) -> list[Need]:
    params, region, op = call.params, call.region, call.operation
    cluster = _ecs_arn(region, "cluster", params.get("cluster", "default"))
    context: dict[str, ContextValue] = {"ecs:cluster": cluster}
    action = f"ecs:{op}"
    if op == "ListTasks":
        return [Need(action, "*", context, origin)]
    if op == "DescribeTasks":
        return [Need(action, arn, context, origin) for arn in _task_arns(region, cluster, params["tasks"])]
    if op == "StopTask":
        return [Need(action, arn, context, origin) for arn in _task_arns(region, cluster, [params["task"]])]
    if op != "RunTask":
        raise NotImplementedError(f"no resource rule for ecs {op}")
    definition = _ecs_arn(region, "task-definition", params["taskDefinition"])
    needs = [Need(action, definition, context, origin)]
    tags = params.get("tags", [])
    if tags or params.get("propagateTags", "NONE") != "NONE":
        needs.append(
            Need(
                "ecs:TagResource",
                _ecs_arn(region, "task", f"{_cluster_name(cluster)}/*"),
                {"ecs:CreateAction": "RunTask", **context, **_request_tags(tags, "key", "value")},
                origin,
                "RunTask that tags (tags or propagateTags) is authorised for ecs:TagResource too",
            )
        )
    if definition not in task_roles:
        raise NotImplementedError(f"RunTask of {definition}: not a task definition of the template")
    overrides = params.get("overrides", {})
    roles = [overrides.get("taskRoleArn"), overrides.get("executionRoleArn"), *task_roles[definition]]
    for role in dict.fromkeys(r for r in roles if r):
        needs.append(
            Need(
                "iam:PassRole",
                role,
                {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
                origin,
                "RunTask passes the task definition's roles to ECS",
            )
        )
    return needs


def _dynamodb_needs(call: ApiCall, origin: str) -> list[Need]:
    """Item and query calls on a table name; a Query on an index is authorised on the index's own ARN."""
    if call.operation not in ("PutItem", "GetItem", "Query", "DeleteItem", "UpdateItem"):
        raise NotImplementedError(f"no resource rule for dynamodb {call.operation}")
    arn = f"arn:{PARTITION}:dynamodb:{call.region}:{ACCOUNT}:table/{call.params['TableName']}"
    if call.operation == "Query" and call.params.get("IndexName"):
        arn += f"/index/{call.params['IndexName']}"
    return [Need(f"dynamodb:{call.operation}", arn, {}, origin)]


def _events_needs(call: ApiCall, origin: str) -> list[Need]:
    if call.operation != "PutEvents":
        raise NotImplementedError(f"no resource rule for events {call.operation}")
    needs = []
    for entry in call.params["Entries"]:
        bus = entry.get("EventBusName", "default")
        arn = bus if bus.startswith("arn:") else f"arn:{PARTITION}:events:{call.region}:{ACCOUNT}:event-bus/{bus}"
        needs.append(Need("events:PutEvents", arn, {}, origin))
    return needs


def needs_of(call: ApiCall, task_roles: Mapping[str, Sequence[str]]) -> list[Need]:
    """The IAM needs of one call; ``task_roles``: each task definition ARN's task and execution roles."""
    origin = f"{call.origin} ({call.service} {call.operation})"
    if (call.service, call.operation) in UNSCOPED:
        return [Need(f"{IAM_PREFIX.get(call.service, call.service)}:{call.operation}", "*", {}, origin)]
    if call.service == "s3":
        return _s3_needs(call, origin)
    if call.service in ("sagemaker", "sagemaker-runtime"):
        return _sagemaker_needs(call, origin)
    if call.service == "ecs":
        return _ecs_needs(call, origin, task_roles)
    if call.service == "stepfunctions" and call.operation == "StartExecution":
        return [Need("states:StartExecution", call.params["stateMachineArn"], {}, origin)]
    if call.service == "dynamodb":
        return _dynamodb_needs(call, origin)
    if call.service == "events":
        return _events_needs(call, origin)
    raise NotImplementedError(f"no IAM rule for {call.service} {call.operation} (from {call.origin}): add one")
