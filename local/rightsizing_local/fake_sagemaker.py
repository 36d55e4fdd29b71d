"""Local SageMaker: the API calls the state machine makes, backed by real model servers on 127.0.0.1.

CreateEndpoint starts a server for the endpoint config's local profile; DescribeEndpoint reports Creating until
``/ping`` answers, InService after, Failed if the server died; DeleteEndpoint stops it, and, as SageMaker may,
refuses while the endpoint is still Creating. Errors are botocore ``ClientError``s shaped like SageMaker's
(``aws_errors``), so the state machine's Catch/Retry see what they would on AWS.

Test hooks: ``hold_in_creating`` keeps matching endpoints Creating for a while and then Failed (an instance that
never comes up); ``start_existing_endpoint`` deploys an endpoint outside the state machine, as a team's production
endpoint would be.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rightsizing.store import LocalStore
from rightsizing_local.aws_errors import ACCOUNT, REGION, client_error, not_found, sagemaker_arn
from rightsizing_local.cpu_samples import Sample, start_sampling, utilisation
from rightsizing_local.events import ProgressSink, no_progress
from rightsizing_local.model_server import ServerProcess, start_server
from rightsizing_local.model_server.serverless import ServerlessSettings
from rightsizing_local.profiles import PROFILES, SERVERLESS_PROFILES

__all__ = ["ACCOUNT", "REGION", "LocalSageMaker", "client_error"]


@dataclass
class LocalEndpoint:
    name: str
    config_name: str
    instance_type: str
    server: ServerProcess
    created: float = field(default_factory=time.time)
    in_service_at: float | None = None
    held_until: float | None = None  # stays Creating until then, Failed after (hold_in_creating)
    external: bool = False  # deployed outside the state machine (start_existing_endpoint)
    cpu_samples: list[Sample] = field(default_factory=list)


class OnePage:
    """A botocore-like paginator over a call that answers in one page."""

    def __init__(self, call: Any) -> None:
        self._call = call

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        return [self._call(**kwargs)]


class LocalSageMaker:
    """Thread-safe: Map iterations call it concurrently from the interpreter's threads."""

    def __init__(self, workdir: Path, progress: ProgressSink = no_progress) -> None:
        self._workdir = workdir
        self._progress = progress
        self._lock = threading.RLock()
        self._models: dict[str, dict[str, Any]] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._endpoints: dict[str, LocalEndpoint] = {}
        self._deleted_samples: dict[str, list[Sample]] = {}  # metrics are read after the endpoint is gone
        self._holds: dict[str, float] = {}  # endpoint name suffix -> seconds to stay Creating
        self._tags: dict[str, list[dict[str, str]]] = {}  # resource ARN -> Tags given at creation (the sweeper reads)
        self._stopped = threading.Event()
        self.calls: list[tuple[str, str]] = []  # (operation, resource name): the audit trail tests assert on
        self.process_groups: list[int] = []  # every server started (each leads its own process group)

    # --- test hooks -------------------------------------------------------------------------------------------
    def hold_in_creating(self, name_suffix: str, seconds: float) -> None:
        """Endpoints named ``…<name_suffix>`` report Creating for ``seconds``, then Failed."""
        self._holds[name_suffix] = seconds

    def start_existing_endpoint(self, name: str, instance_type: str, model_uri: str) -> None:
        """Deploy an endpoint outside the state machine (not in ``calls``), as a production endpoint would be."""
        with self._lock:
            self._models[name] = {"ModelDataUrl": model_uri, "Environment": {}}
            self._configs[name] = {"ModelName": name, "InstanceType": instance_type, "VariantName": "AllTraffic"}
        self._start_endpoint(name, name, external=True)

    def endpoint_instance_type(self, name: str) -> str | None:
        with self._lock:
            endpoint = self._endpoints.get(name)
            return endpoint.instance_type if endpoint else None

    # --- models and endpoint configs -------------------------------------------------------------------------
    def create_model(
        self, ModelName: str, PrimaryContainer: dict[str, Any], Tags: list[dict[str, str]] | None = None, **_: Any
    ) -> dict[str, Any]:
        arn = sagemaker_arn("model", ModelName)
        with self._lock:
            self.calls.append(("CreateModel", ModelName))
            if ModelName in self._models:
                raise client_error("CreateModel", f"Cannot create already existing model {arn}.")
            self._models[ModelName] = dict(PrimaryContainer)
            self._tags[arn] = list(Tags or [])
        return {"ModelArn": arn}

    def create_endpoint_config(
        self,
        EndpointConfigName: str,
        ProductionVariants: list[dict[str, Any]],
        Tags: list[dict[str, str]] | None = None,
        **rest: Any,
    ) -> dict[str, Any]:
        params = {"EndpointConfigName": EndpointConfigName, "ProductionVariants": ProductionVariants, **rest}
        if Tags is not None:
            params["Tags"] = Tags
        check_against_botocore("CreateEndpointConfig", params)
        with self._lock:
            self.calls.append(("CreateEndpointConfig", EndpointConfigName))
            if EndpointConfigName in self._configs:
                raise client_error("CreateEndpointConfig", f"Endpoint config {EndpointConfigName} already exists.")
            variant = ProductionVariants[0]
            if variant["ModelName"] not in self._models:
                raise client_error("CreateEndpointConfig", f'Could not find model "{variant["ModelName"]}".')
            _check_variant_kind(variant)
            self._configs[EndpointConfigName] = dict(variant)
            self._tags[sagemaker_arn("endpoint-config", EndpointConfigName)] = list(Tags or [])
        return {"EndpointConfigArn": sagemaker_arn("endpoint-config", EndpointConfigName)}

    def delete_model(self, ModelName: str, **_: Any) -> dict[str, Any]:
        return self._delete("DeleteModel", "model", self._models, ModelName)

    def delete_endpoint_config(self, EndpointConfigName: str, **_: Any) -> dict[str, Any]:
        return self._delete("DeleteEndpointConfig", "endpoint-config", self._configs, EndpointConfigName)

    def _delete(self, operation: str, kind: str, kept: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
        with self._lock:
            self.calls.append((operation, name))
            if kept.pop(name, None) is None:
                raise not_found(operation, kind, name)
        return {}

    # --- endpoints ------------------------------------------------------------------------------------------
    def create_endpoint(
        self, EndpointName: str, EndpointConfigName: str, Tags: list[dict[str, str]] | None = None, **_: Any
    ) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("CreateEndpoint", EndpointName))
            if self._stopped.is_set():
                raise client_error("CreateEndpoint", "local run is shutting down", "ServiceUnavailable", 503)
            if EndpointName in self._endpoints:
                raise client_error("CreateEndpoint", f'Cannot create already existing endpoint "{EndpointName}".')
            if EndpointConfigName not in self._configs:
                raise not_found("CreateEndpoint", "endpoint-config", EndpointConfigName)
            self._start_endpoint(EndpointName, EndpointConfigName)
            self._tags[sagemaker_arn("endpoint", EndpointName)] = list(Tags or [])
        return {"EndpointArn": sagemaker_arn("endpoint", EndpointName)}

    def describe_endpoint(self, EndpointName: str, **_: Any) -> dict[str, Any]:
        endpoint = self._endpoint("DescribeEndpoint", EndpointName)
        status, reason = self._status(endpoint)
        description: dict[str, Any] = {
            "EndpointName": EndpointName,
            "EndpointArn": sagemaker_arn("endpoint", EndpointName),
            "EndpointConfigName": endpoint.config_name,
            "EndpointStatus": status,
            "CreationTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(endpoint.created)),
            "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": 1}],
        }
        if reason:
            description["FailureReason"] = reason
        return description

    def delete_endpoint(self, EndpointName: str, **_: Any) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("DeleteEndpoint", EndpointName))
            endpoint = self._endpoints.get(EndpointName)
            if endpoint is None:
                raise not_found("DeleteEndpoint", "endpoint", EndpointName)
            status, _reason = self._status(endpoint)
            if status == "Creating":
                arn = sagemaker_arn("endpoint", EndpointName)
                raise client_error("DeleteEndpoint", f'Cannot delete endpoint "{arn}" while it is Creating.')
            del self._endpoints[EndpointName]
            self._deleted_samples[EndpointName] = endpoint.cpu_samples
        endpoint.server.stop()
        self._progress(EndpointName, "deleted", "server stopped")
        return {}

    # --- listing, as the sweeper finds a run's leftovers (rightsizing.adapters.sweep.RunSweeper) ----------------
    def list_models(self, NameContains: str = "", **_: Any) -> dict[str, Any]:
        with self._lock:
            names = [n for n in sorted(self._models) if NameContains in n]
        return {"Models": [{"ModelName": n, "ModelArn": sagemaker_arn("model", n)} for n in names]}

    def list_endpoint_configs(self, NameContains: str = "", **_: Any) -> dict[str, Any]:
        with self._lock:
            names = [n for n in sorted(self._configs) if NameContains in n]
        configs = [{"EndpointConfigName": n, "EndpointConfigArn": sagemaker_arn("endpoint-config", n)} for n in names]
        return {"EndpointConfigs": configs}

    def list_endpoints(self, NameContains: str = "", **_: Any) -> dict[str, Any]:
        with self._lock:
            endpoints = [e for name, e in sorted(self._endpoints.items()) if NameContains in name]
        listed = [
            {
                "EndpointName": e.name,
                "EndpointArn": sagemaker_arn("endpoint", e.name),
                "EndpointStatus": self._status(e)[0],
            }
            for e in endpoints
        ]
        return {"Endpoints": listed}

    def list_tags(self, ResourceArn: str, **_: Any) -> dict[str, Any]:
        with self._lock:
            tags = self._tags.get(ResourceArn)
        if tags is None:
            kind, name = ResourceArn.rsplit(":", 1)[-1].split("/", 1)
            raise not_found("ListTags", kind, name)
        return {"Tags": list(tags)}

    def get_paginator(self, operation: str) -> OnePage:
        """The list calls above answer in one page; the sweeper iterates pages as with botocore."""
        return OnePage(getattr(self, operation))

    # --- local-only helpers ---------------------------------------------------------------------------------
    def endpoint_url(self, name: str) -> str:
        return self._endpoint("InvokeEndpoint", name).server.url

    def server_metrics(self, name: str, start_epoch: float, end_epoch: float) -> dict[str, float]:
        """CPU of the endpoint's processes over the window, also after the endpoint was deleted."""
        with self._lock:
            endpoint = self._endpoints.get(name)
            samples = list(endpoint.cpu_samples if endpoint else self._deleted_samples.get(name, []))
        return utilisation(samples, start_epoch, end_epoch)

    def live_resources(self) -> dict[str, list[str]]:
        with self._lock:
            return {
                "models": sorted(self._models),
                "endpoint_configs": sorted(self._configs),
                "endpoints": sorted(self._endpoints),
            }

    def shutdown(self) -> None:
        """Stop every server (used on Ctrl-C and at the end of a run, whatever happened)."""
        self._stopped.set()
        with self._lock:
            endpoints = list(self._endpoints.values())
            self._endpoints.clear()
        for endpoint in endpoints:
            endpoint.server.stop()

    def _start_endpoint(self, name: str, config_name: str, external: bool = False) -> None:
        with self._lock:
            variant = self._configs[config_name]
            container = self._models[variant["ModelName"]]
            serverless = variant.get("ServerlessConfig")
            if serverless is not None:
                label, description, server = self._start_serverless(name, container, serverless)
            else:
                profile = PROFILES[variant["InstanceType"]]
                label, description = profile.name, profile.description
                server = start_server(
                    model_path=LocalStore.path_of(container["ModelDataUrl"]),
                    workers=profile.workers,
                    cpus=profile.usable_cpus(),
                    environment={**profile.environment, **container.get("Environment", {})},
                    log_path=self._workdir / "endpoints" / f"{name}.log",
                )
            held = next((s for suffix, s in self._holds.items() if name.endswith(suffix)), None)
            self._endpoints[name] = LocalEndpoint(
                name,
                config_name,
                label,
                server,
                external=external,
                held_until=None if held is None else time.time() + held,
            )
            self.process_groups.append(server.process.pid)
        self._progress(name, "creating", f"{label}: {description}")

    def _start_serverless(
        self, name: str, container: dict[str, Any], config: dict[str, int]
    ) -> tuple[str, str, ServerProcess]:
        """A serverless endpoint: the memory size's local profile, with the concurrency cap and cold start on."""
        profile = SERVERLESS_PROFILES[config["MemorySizeInMB"]]
        settings = ServerlessSettings(config["MaxConcurrency"], profile.cold_start_seconds, profile.idle_seconds)
        server = start_server(
            model_path=LocalStore.path_of(container["ModelDataUrl"]),
            workers=profile.workers,
            cpus=profile.usable_cpus(),
            environment={**container.get("Environment", {}), **settings.environment()},
            log_path=self._workdir / "endpoints" / f"{name}.log",
            threads=profile.threads,
        )
        label = f"{profile.name}-c{config['MaxConcurrency']}"
        description = (
            f"{profile.description}, MaxConcurrency {config['MaxConcurrency']}, "
            f"cold start {profile.cold_start_seconds:g} s"
        )
        return label, description, server

    def _endpoint(self, operation: str, name: str) -> LocalEndpoint:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise not_found(operation, "endpoint", name)
        return endpoint

    def _status(self, endpoint: LocalEndpoint) -> tuple[str, str | None]:
        if endpoint.held_until is not None:
            if time.time() < endpoint.held_until:
                return "Creating", None
            return "Failed", "the instance never became healthy (held in Creating by a test)"
        code = endpoint.server.exit_code()
        if code is not None:
            tail = " | ".join(endpoint.server.log_tail(5).splitlines())
            return "Failed", f"model server exited with code {code}: {tail}"
        if endpoint.in_service_at is None:
            # /ping answers before gunicorn has forked every worker; a benchmark must not start on half a server.
            server = endpoint.server
            if not (server.is_ready() and len(server.worker_pids()) >= server.workers):
                return "Creating", None
            endpoint.in_service_at = time.time()
            start_sampling(server.process.pid, endpoint.cpu_samples, self._sampling(endpoint))
            self._progress(endpoint.name, "in_service", endpoint.server.url)
        return "InService", None

    def _sampling(self, endpoint: LocalEndpoint) -> Any:
        return lambda: endpoint.server.exit_code() is None and not self._stopped.is_set()


@functools.cache
def _input_shape(operation: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker").operation_model(operation).input_shape


def check_against_botocore(operation: str, params: dict[str, Any]) -> None:
    """Refuse parameters botocore's SageMaker model refuses (types, ranges, required members), as the real API
    would: the state machine's Parameters are checked here against the service contract, not only by shape."""
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(params, _input_shape(operation))
    if report.has_errors():
        raise client_error(operation, " ".join(report.generate_report().split()))


def _check_variant_kind(variant: dict[str, Any]) -> None:
    """What SageMaker checks beyond botocore's model: a variant is either serverless or instance-based."""
    serverless = variant.get("ServerlessConfig")
    if serverless is not None:
        if "InstanceType" in variant or "InitialInstanceCount" in variant:
            raise client_error(
                "CreateEndpointConfig",
                "ServerlessConfig cannot be specified with InstanceType or InitialInstanceCount.",
            )
        if serverless["MemorySizeInMB"] not in SERVERLESS_PROFILES:
            known = ", ".join(f"{m} ({p.name})" for m, p in SERVERLESS_PROFILES.items())
            raise client_error(
                "CreateEndpointConfig",
                f"MemorySizeInMB {serverless['MemorySizeInMB']} has no local serverless profile (known: {known}).",
            )
        return
    if "InstanceType" not in variant or "InitialInstanceCount" not in variant:
        needs = "A production variant needs InstanceType and InitialInstanceCount, or ServerlessConfig."
        raise client_error("CreateEndpointConfig", needs)
    if variant["InstanceType"] not in PROFILES:
        raise client_error(
            "CreateEndpointConfig", f"'{variant['InstanceType']}' at 'instanceType' is not a local profile."
        )
