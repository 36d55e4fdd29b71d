"""What the state machines and the EventBridge rule do with their roles, read from the deployed definitions.

Every Task state's ``Resource`` is mapped to the calls Step Functions makes for it (Step Functions developer guide,
"IAM policies for integrated services"), its ``Parameters`` evaluated against a real state input (the plan's
candidates for the Map's states) so the resources are the ones a run names:

- a Lambda function ARN or ``lambda:invoke``: ``lambda:InvokeFunction``;
- ``aws-sdk:<service>:<action>`` and the optimised SageMaker integrations: the API call itself, with the same rules
  as a call from code (``iam_calls.needs_of``: tags on create, PassRole);
- ``ecs:runTask.sync``: RunTask (and its TagResource/PassRole), plus what ``.sync`` does itself: DescribeTasks and
  StopTask on the task, and the managed rule StepFunctionsGetEventsForECSTaskRule (PutTargets, PutRule,
  DescribeRule);
- ``states:startExecution``, ``events:putEvents``.

The machines' own configuration adds log delivery (Logging) and X-Ray (Tracing). An integration with no rule here
fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from iam_calls import ApiCall, needs_of
from iam_eval import Need
from iam_template import ACCOUNT, PARTITION, REGION, Template, state_machine_definition

OPTIMISED = re.compile(
    r"arn:aws:states:::(?P<service>[a-z0-9-]+):(?P<action>\w+)(?P<pattern>\.sync(:2)?|\.waitForTaskToken)?"
)
SDK_PREFIX = "arn:aws:states:::aws-sdk:"
SDK_SERVICES = {"sagemaker": "sagemaker", "ecs": "ecs", "states": "stepfunctions", "events": "events"}
ECS_SYNC_RULE = f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForECSTaskRule"
LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
TRACING = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets")


class Unresolved(str):
    """A JSONPath the sample input does not reach (a value only a real execution has)."""


def _path(document: Any, path: str) -> Any:
    value = document
    for part in path.removeprefix("$").strip(".").split(".") if path != "$" else []:
        if not isinstance(value, Mapping) or part not in value:
            return Unresolved(path)
        value = value[part]
    return value


def evaluate(parameters: Any, state_input: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    """Parameters with ``.$`` fields taken from the input (``$.…``) or the context object (``$$.…``); intrinsic
    functions stay unresolved (none decides a resource here)."""
    if isinstance(parameters, list):
        return [evaluate(item, state_input, context) for item in parameters]
    if not isinstance(parameters, Mapping):
        return parameters
    result: dict[str, Any] = {}
    for key, value in parameters.items():
        if key.endswith(".$"):
            if value.startswith("$$"):
                result[key[:-2]] = _path(context, value[1:])
            elif value.startswith("$"):
                result[key[:-2]] = _path(state_input, value)
            else:
                result[key[:-2]] = Unresolved(value)
        else:
            result[key] = evaluate(value, state_input, context)
    return result


def _camel(value: Any) -> Any:
    """Step Functions' PascalCase ECS parameters as the ECS API names them (Cluster -> cluster)."""
    if isinstance(value, list):
        return [_camel(item) for item in value]
    if isinstance(value, Mapping):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items()}
    return value


def _resolved(parameters: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if isinstance(parameters.get(name), Unresolved):
            raise AssertionError(f"parameter {name} ({parameters[name]}) is not reached by the sample input")


def _operation(action: str) -> str:
    return action[:1].upper() + action[1:]  # describeEndpoint -> DescribeEndpoint


def task_needs(state: str, task: Mapping[str, Any], parameters: Mapping[str, Any], task_roles: Any) -> list[Need]:
    resource, origin = task["Resource"], f"state {state}"
    if resource.startswith(f"arn:{PARTITION}:lambda:"):
        return [Need("lambda:InvokeFunction", resource, {}, origin)]
    if resource.startswith(SDK_PREFIX):  # aws-sdk:<service>:<action>: the API call itself
        service, _, action = resource.removeprefix(SDK_PREFIX).partition(":")
        call = ApiCall("", SDK_SERVICES.get(service, service), _operation(action), dict(parameters), REGION, origin)
        return needs_of(call, task_roles)
    match = OPTIMISED.fullmatch(resource)
    if match is None:
        raise NotImplementedError(f"{origin}: no IAM rule for Resource {resource}")
    service, action, pattern = match["service"], match["action"], match["pattern"] or ""
    if service == "sagemaker" and not pattern:
        call = ApiCall("", "sagemaker", _operation(action), dict(parameters), REGION, origin)
        return needs_of(call, task_roles)
    if service == "lambda" and action == "invoke" and not pattern:
        _resolved(parameters, "FunctionName")
        return [Need("lambda:InvokeFunction", parameters["FunctionName"], {}, origin)]
    if service == "ecs" and action == "runTask" and pattern in ("", ".sync"):
        ecs = _camel(parameters)
        _resolved(ecs, "cluster", "taskDefinition")
        needs = needs_of(ApiCall("", "ecs", "RunTask", ecs, REGION, origin), task_roles)
        if pattern == ".sync":
            tasks = f"arn:{PARTITION}:ecs:{REGION}:{ACCOUNT}:task/{ecs['cluster'].rsplit('/', 1)[-1]}/*"
            context = {"ecs:cluster": ecs["cluster"]}
            why = "runTask.sync watches and, on timeout or abort, stops the task"
            needs += [Need(f"ecs:{a}", tasks, context, origin, why) for a in ("DescribeTasks", "StopTask")]
            why = "runTask.sync listens through the managed rule StepFunctionsGetEventsForECSTaskRule"
            needs += [
                Need(f"events:{a}", ECS_SYNC_RULE, {}, origin, why) for a in ("PutTargets", "PutRule", "DescribeRule")
            ]
        return needs
    if service == "states" and action == "startExecution" and not pattern:
        _resolved(parameters, "StateMachineArn")
        return [Need("states:StartExecution", parameters["StateMachineArn"], {}, origin)]
    if service == "events" and action == "putEvents" and not pattern:
        needs = []
        for entry in parameters["Entries"]:
            bus = entry.get("EventBusName", "default")
            arn = bus if bus.startswith("arn:") else f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
            needs.append(Need("events:PutEvents", arn, {}, origin))
        return needs
    raise NotImplementedError(f"{origin}: no IAM rule for Resource {resource}")


def _rule(rule: Mapping[str, Any], state_input: Mapping[str, Any]) -> bool | None:
    """A Choice rule on the sample input: True, False, or None when the input does not decide it (a value only
    the execution has, such as an endpoint's status)."""
    if "And" in rule or "Or" in rule:
        values = [_rule(r, state_input) for r in rule.get("And", rule.get("Or", []))]
        decisive = "Or" in rule  # one False decides an And, one True an Or
        if decisive in values:
            return decisive
        return None if None in values else not decisive
    if "Not" in rule:
        value = _rule(rule["Not"], state_input)
        return None if value is None else not value
    found = _path(state_input, rule["Variable"])
    if isinstance(found, Unresolved):
        return None
    for comparison in ("BooleanEquals", "StringEquals", "NumericEquals"):
        if comparison in rule:
            return bool(found == rule[comparison])
    return None


def _successors(state: Mapping[str, Any], state_input: Mapping[str, Any]) -> list[str]:
    following = [c["Next"] for c in state.get("Catch", [])]
    if state["Type"] != "Choice":
        return following + ([state["Next"]] if "Next" in state else [])
    for rule in state["Choices"]:
        decided = _rule(rule, state_input)
        if decided is not False:
            following.append(rule["Next"])
        if decided:
            return following  # this rule always matches: later ones and the default are never reached
    return following + ([state["Default"]] if "Default" in state else [])


def _reachable(states: Mapping[str, Any], start: str, state_input: Mapping[str, Any]) -> list[str]:
    """States an execution with this input can reach (every branch its input does not rule out)."""
    seen, todo = [start], [start]
    while todo:
        for name in _successors(states[todo.pop()], state_input):
            if name not in seen:
                seen.append(name)
                todo.append(name)
    return seen


def _tasks(
    machine: Mapping[str, Any], scope: str, inputs: Mapping[str, Sequence[Mapping[str, Any]]]
) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """(name, state, input) of every Task state each sample input reaches; a Map's item processor is walked
    with the "item" inputs."""
    for state_input in inputs[scope]:
        for name in _reachable(machine["States"], machine["StartAt"], state_input):
            state = machine["States"][name]
            if state["Type"] == "Task":
                yield name, state, state_input
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                yield from _tasks(processor, "item", inputs)
            if state.get("Branches"):
                raise NotImplementedError(f"{name}: Parallel states are not walked yet")


def state_machine_needs(
    template: Template,
    machine: str,
    inputs: Mapping[str, Sequence[Mapping[str, Any]]],
    context: Mapping[str, Any],
    task_roles: Any,
) -> list[Need]:
    """Needs of every Task state of ``machine`` each of its sample ``inputs`` ({"top": […], "item": […]}) can
    reach, and of the machine's logging and tracing configuration."""
    definition = state_machine_definition(template, machine)
    needs: list[Need] = []
    for name, task, state_input in _tasks(definition, "top", inputs):
        parameters = evaluate(task.get("Parameters", {}), state_input, context)
        needs.extend(task_needs(name, task, parameters, task_roles))
    properties = template.resources[machine]["Properties"]
    origin = f"{machine} configuration"
    if properties.get("Logging", {}).get("Level", "OFF") != "OFF":
        needs += [Need(a, "*", {}, origin, "execution logging to CloudWatch Logs") for a in LOG_DELIVERY]
    if properties.get("Tracing", {}).get("Enabled"):
        needs += [Need(a, "*", {}, origin, "X-Ray tracing") for a in TRACING]
    return needs


def rule_target_needs(template: Template) -> dict[str, list[Need]]:
    """The role each EventBridge rule target is given, and what it must allow for that target."""
    roles = {attributes.get("Arn"): logical for logical, attributes in template.attributes.items()}
    found: dict[str, list[Need]] = {}
    for logical_id, resource in template.resources.items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        for target in template.resolve(resource["Properties"].get("Targets", [])):
            if "RoleArn" not in target:
                continue
            arn, origin = target["Arn"], f"{logical_id} target {target['Id']}"
            if ":states:" not in arn or ":stateMachine:" not in arn:
                raise NotImplementedError(f"{origin}: no IAM rule for a target {arn}")
            found.setdefault(roles[target["RoleArn"]], []).append(Need("states:StartExecution", arn, {}, origin))
    return found


def schedule_target_needs(template: Template) -> dict[str, list[Need]]:
    """The role each EventBridge Scheduler schedule of the template runs with, and what it must allow: a Lambda
    function target is Lambda's Invoke, authorised for the role as ``lambda:InvokeFunction``."""
    roles = {attributes.get("Arn"): logical for logical, attributes in template.attributes.items()}
    found: dict[str, list[Need]] = {}
    for logical_id, resource in template.resources.items():
        if resource["Type"] != "AWS::Scheduler::Schedule" or not template.conditions.get(
            resource.get("Condition", ""), True
        ):
            continue
        target = template.resolve(resource["Properties"]["Target"])
        arn, origin = target["Arn"], f"{logical_id} target"
        if ":lambda:" not in arn or ":function:" not in arn:
            raise NotImplementedError(f"{origin}: no IAM rule for a schedule target {arn}")
        found.setdefault(roles[target["RoleArn"]], []).append(Need("lambda:InvokeFunction", arn, {}, origin))
    return found
