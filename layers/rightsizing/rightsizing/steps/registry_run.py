"""An approved model package version starts a run with its group's profile: candidates, target and SLA.

The profile (``profiles/<group>.json`` in the results bucket) is a request without its model: the model is the
package the event names. It may set ``model.network_isolation`` (AWS Marketplace packages need it), ``name``
(default: the group's name) and ``region`` (default: the event's, which is the stack's).
"""

from __future__ import annotations

from typing import Any

from rightsizing.exceptions import InvalidRequest
from rightsizing.models.automation import (
    ModelPackageStateChange,
    TriggerOutcome,
    profile_key,
    registry_run_id,
    request_name_for,
)
from rightsizing.models.request import parse_request
from rightsizing.ports import Triggers
from rightsizing.steps.run_trigger import not_started, start_request
from rightsizing.store import get_json, join_uri

COMPLETED = "Completed"  # ModelPackageStatus: a package still InProgress cannot be deployed yet
PROFILE_MODEL_KEYS = {"network_isolation"}


def start_registry_run(event: ModelPackageStateChange, triggers: Triggers) -> TriggerOutcome:
    package = event.detail
    run_id = registry_run_id(package.group, package.version)
    if package.approval_status not in triggers.approval_statuses:
        wanted = ", ".join(sorted(triggers.approval_statuses))
        return not_started(f"{package.arn} is {package.approval_status or 'without approval status'}, not {wanted}")
    if package.package_status not in (None, COMPLETED):
        return not_started(f"{package.arn} is {package.package_status}: it can be deployed once {COMPLETED}")
    uri = join_uri(triggers.artifacts_uri, profile_key(package.group))
    if not triggers.store.exists(uri):
        return not_started(f"model package group {package.group} has no profile at {uri}", run_id)
    try:
        request = parse_request(request_document(get_json(uri, triggers.store), event))
    except ValueError as e:
        return not_started(f"the profile {uri} is not JSON: {e}", run_id)
    except InvalidRequest as e:
        return not_started(f"the profile {uri} does not make a valid request: {e.details}", run_id)
    return start_request(run_id, request, triggers)


def request_document(profile: Any, event: ModelPackageStateChange) -> dict[str, Any]:
    """The profile with the event's package as its model; InvalidRequest for a profile that names a model itself."""
    return profile_request(profile, event.detail.arn, event.detail.group, event.region)


def profile_request(profile: Any, model_package_arn: str, default_name: str, region: str) -> dict[str, Any]:
    """A profile (a request without its model) made a request for ``model_package_arn``; ``name`` defaults to
    ``default_name`` cut to fit, ``region`` to ``region``."""
    if not isinstance(profile, dict):
        raise InvalidRequest("profile", "must be a JSON object: a request without its model")
    model = profile.get("model", {})
    if not isinstance(model, dict) or set(model) - PROFILE_MODEL_KEYS:
        raise InvalidRequest(
            "model", "a profile's model may set only network_isolation: the model is the package being rightsized"
        )
    return {
        **profile,
        "name": profile.get("name", request_name_for(default_name)),
        "region": profile.get("region", region),
        "model": {**model, "type": "model_package", "model_package_arn": model_package_arn},
    }
