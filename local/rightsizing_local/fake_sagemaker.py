"""Local SageMaker: the API calls the state machine makes, backed by real model servers on 127.0.0.1.

CreateEndpoint starts a server for the endpoint config's local profile; DescribeEndpoint reports Creating until
``/ping`` answers, InService after, Failed if the server died; DeleteEndpoint stops it. Errors are botocore
``ClientError``s shaped like SageMaker's, so the state machine's Catch/Retry see what they would on AWS.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from botocore.exceptions import ClientError

from rightsizing.store import LocalStore
from rightsizing_local.events import ProgressSink, no_progress
from rightsizing_local.model_server import ServerProcess, start_server
from rightsizing_local.profiles import PROFILES

ACCOUNT = "123456789012"
REGION = "us-east-1"
CPU_SAMPLE_SECONDS = 0.5


def client_error(operation: str, message: str, code: str = "ValidationException", status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "local-request"},
        },
        operation,
    )


def _arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name.lower()}"


@dataclass
class LocalEndpoint:
    name: str
    config_name: str
    instance_type: str
    server: ServerProcess
    created: float = field(default_factory=time.time)
    in_service_at: float | None = None
    cpu_samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch, cumulative CPU seconds)


class LocalSageMaker:
    """Thread-safe: Map iterations call it concurrently from the interpreter's threads."""

    def __init__(self, workdir: Path, progress: ProgressSink = no_progress) -> None:
        self._workdir = workdir
        self._progress = progress
        self._lock = threading.RLock()
        self._models: dict[str, dict] = {}
        self._configs: dict[str, dict] = {}
        self._endpoints: dict[str, LocalEndpoint] = {}
        self._stopped = threading.Event()
        self.calls: list[tuple[str, str]] = []  # (operation, resource name): the audit trail tests assert on
        self.process_groups: list[int] = []  # every server started (each leads its own process group)

    # --- models and endpoint configs -------------------------------------------------------------------------
    def create_model(self, ModelName: str, PrimaryContainer: dict, **_: Any) -> dict:
        with self._lock:
            self.calls.append(("CreateModel", ModelName))
            if ModelName in self._models:
                raise client_error("CreateModel", f"Cannot create already existing model {_arn('model', ModelName)}.")
            self._models[ModelName] = dict(PrimaryContainer)
        return {"ModelArn": _arn("model", ModelName)}

    def create_endpoint_config(self, EndpointConfigName: str, ProductionVariants: list[dict], **_: Any) -> dict:
        with self._lock:
            self.calls.append(("CreateEndpointConfig", EndpointConfigName))
            if EndpointConfigName in self._configs:
                raise client_error("CreateEndpointConfig", f"Endpoint config {EndpointConfigName} already exists.")
            variant = ProductionVariants[0]
            if variant["ModelName"] not in self._models:
                raise client_error("CreateEndpointConfig", f"Could not find model \"{variant['ModelName']}\".")
            if variant["InstanceType"] not in PROFILES:
                raise client_error(
                    "CreateEndpointConfig", f"'{variant['InstanceType']}' at 'instanceType' is not a local profile."
                )
            self._configs[EndpointConfigName] = dict(variant)
        return {"EndpointConfigArn": _arn("endpoint-config", EndpointConfigName)}

    def delete_model(self, ModelName: str, **_: Any) -> dict:
        with self._lock:
            self.calls.append(("DeleteModel", ModelName))
            if self._models.pop(ModelName, None) is None:
                raise client_error("DeleteModel", f"Could not find model \"{_arn('model', ModelName)}\".")
        return {}

    def delete_endpoint_config(self, EndpointConfigName: str, **_: Any) -> dict:
        with self._lock:
            self.calls.append(("DeleteEndpointConfig", EndpointConfigName))
            if self._configs.pop(EndpointConfigName, None) is None:
                raise client_error(
                    "DeleteEndpointConfig", f"Could not find endpoint configuration \"{EndpointConfigName}\"."
                )
        return {}

    # --- endpoints ------------------------------------------------------------------------------------------
    def create_endpoint(self, EndpointName: str, EndpointConfigName: str, **_: Any) -> dict:
        with self._lock:
            self.calls.append(("CreateEndpoint", EndpointName))
            if self._stopped.is_set():
                raise client_error("CreateEndpoint", "local run is shutting down", "ServiceUnavailable", 503)
            if EndpointName in self._endpoints:
                raise client_error("CreateEndpoint", f"Cannot create already existing endpoint \"{EndpointName}\".")
            variant = self._configs.get(EndpointConfigName)
            if variant is None:
                raise client_error("CreateEndpoint", f"Could not find endpoint configuration \"{EndpointConfigName}\".")
            container = self._models[variant["ModelName"]]
            profile = PROFILES[variant["InstanceType"]]
            server = start_server(
                model_path=LocalStore.path_of(container["ModelDataUrl"]),
                workers=profile.workers,
                cpus=profile.usable_cpus(),
                environment={**profile.environment, **container.get("Environment", {})},
                log_path=self._workdir / "endpoints" / f"{EndpointName}.log",
            )
            self._endpoints[EndpointName] = LocalEndpoint(EndpointName, EndpointConfigName, profile.name, server)
            self.process_groups.append(server.process.pid)
        self._progress(EndpointName, "creating", f"{profile.name}: {profile.description}")
        return {"EndpointArn": _arn("endpoint", EndpointName)}

    def describe_endpoint(self, EndpointName: str, **_: Any) -> dict:
        endpoint = self._endpoint("DescribeEndpoint", EndpointName)
        status, reason = self._status(endpoint)
        description = {
            "EndpointName": EndpointName,
            "EndpointArn": _arn("endpoint", EndpointName),
            "EndpointConfigName": endpoint.config_name,
            "EndpointStatus": status,
            "CreationTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(endpoint.created)),
        }
        if reason:
            description["FailureReason"] = reason
        return description

    def delete_endpoint(self, EndpointName: str, **_: Any) -> dict:
        with self._lock:
            self.calls.append(("DeleteEndpoint", EndpointName))
            endpoint = self._endpoints.pop(EndpointName, None)
        if endpoint is None:
            raise client_error("DeleteEndpoint", f"Could not find endpoint \"{_arn('endpoint', EndpointName)}\".")
        endpoint.server.stop()
        self._progress(EndpointName, "deleted", "server stopped")
        return {}

    # --- local-only helpers ---------------------------------------------------------------------------------
    def endpoint_url(self, name: str) -> str:
        return self._endpoint("InvokeEndpoint", name).server.url

    def server_metrics(self, name: str, start_epoch: float, end_epoch: float) -> dict[str, float]:
        """Mean and peak CPU of the endpoint's processes over the window, in % of one core summed (like AWS)."""
        with self._lock:
            endpoint = self._endpoints.get(name)
            samples = list(endpoint.cpu_samples) if endpoint else []
        window = [s for s in samples if start_epoch <= s[0] <= end_epoch]
        if len(window) < 2:
            return {}
        rates = [
            (b[1] - a[1]) / (b[0] - a[0]) * 100 for a, b in itertools.pairwise(window) if b[0] > a[0]
        ]
        total = (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0]) * 100
        return {"CPUUtilization": round(total, 1), "CPUUtilizationMax": round(max(rates), 1)}

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

    def _endpoint(self, operation: str, name: str) -> LocalEndpoint:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise client_error(operation, f"Could not find endpoint \"{_arn('endpoint', name)}\".")
        return endpoint

    def _status(self, endpoint: LocalEndpoint) -> tuple[str, str | None]:
        code = endpoint.server.exit_code()
        if code is not None:
            return "Failed", f"model server exited with code {code}: {_log_tail(endpoint.server.log_path)}"
        if endpoint.in_service_at is None:
            # /ping answers before gunicorn has forked every worker; a benchmark must not start on half a server.
            server = endpoint.server
            if not (server.is_ready() and len(server.worker_pids()) >= server.workers):
                return "Creating", None
            endpoint.in_service_at = time.time()
            threading.Thread(target=self._sample_cpu, args=(endpoint,), daemon=True).start()
            self._progress(endpoint.name, "in_service", endpoint.server.url)
        return "InService", None

    def _sample_cpu(self, endpoint: LocalEndpoint) -> None:
        try:
            root = psutil.Process(endpoint.server.process.pid)
            while endpoint.server.exit_code() is None and not self._stopped.is_set():
                processes = [root, *root.children(recursive=True)]
                cpu = sum(p.cpu_times().user + p.cpu_times().system for p in processes if p.is_running())
                endpoint.cpu_samples.append((time.time(), cpu))
                time.sleep(CPU_SAMPLE_SECONDS)
        except psutil.Error:
            return  # the server went away: sampling simply ends


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no server log)"
