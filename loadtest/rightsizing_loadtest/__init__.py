"""The load generator: runs a ``LoadTestJob`` against an endpoint with Locust (as a library) and writes the result.

Importing Locust monkey-patches the whole process with gevent, so this package's modules other than this one
(``driver``, ``users``, ``task``) must only ever run in their own process: ``python -m rightsizing_loadtest.task``.
This module stays import-safe so callers can name the entry point without pulling Locust in.
"""

from __future__ import annotations

TASK_MODULE = "rightsizing_loadtest.task"
