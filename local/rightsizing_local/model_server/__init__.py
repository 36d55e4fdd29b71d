"""Local stand-in for a SageMaker real-time endpoint: a built-in model served by gunicorn on 127.0.0.1.

``ensure_builtin_model`` trains/caches the demo model, ``create_app`` is the WSGI app (SageMaker container
contract), ``start_server``/``wait_ready``/``ServerProcess`` run it as a real HTTP server for the load test.
"""

from __future__ import annotations

from rightsizing_local.model_server.app import create_app
from rightsizing_local.model_server.process import ServerProcess, start_server, wait_ready
from rightsizing_local.model_server.training import N_FEATURES, ensure_builtin_model, sample_rows

__all__ = [
    "N_FEATURES",
    "ServerProcess",
    "create_app",
    "ensure_builtin_model",
    "sample_rows",
    "start_server",
    "wait_ready",
]
