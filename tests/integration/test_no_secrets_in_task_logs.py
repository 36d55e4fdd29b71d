"""The load-test task's log (its stdout and stderr, which the awslogs driver ships to CloudWatch) carries no request
body and no credential, even from an endpoint that echoes what it was sent in its errors.

``python -m rightsizing_loadtest.task`` runs against a server on 127.0.0.1 that answers every invocation with HTTP 400
and a message quoting the body and the request's headers (the worst a model container can do); the payload and the
task's AWS credentials carry marker strings. The credentials' repr, which an error message could quote, hides them.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from loopback import LoopbackServer, QuietHandler, run_load_task
from test_loadtest_task import write_job

from rightsizing.models.request import LoadSettings
from rightsizing.store import local_uri, put_json
from rightsizing_loadtest.endpoint import Target
from rightsizing_loadtest.sigv4 import Credentials

PAYLOAD = "PAYLOADMARKERt4Ny8"
ACCESS_KEY = "AKIAMARKERg6Qe1"
SECRET_KEY = "SECRETKEYMARKERz8Wb5"
SESSION_TOKEN = "SESSIONTOKENMARKERm1Kc3"
MARKERS = (PAYLOAD, ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)


class EchoingErrors(QuietHandler):
    received: list[bytes] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.lock:
            self.received.append(body)
        message = f"cannot parse {body.decode(errors='replace')}; headers: {dict(self.headers)}"
        self.reply(400, json.dumps({"message": message}).encode())

    def do_GET(self) -> None:
        self.reply(200, b"{}")


def test_the_task_log_never_quotes_a_body_or_a_credential(tmp_path: Path) -> None:
    EchoingErrors.received = []
    server = LoopbackServer(EchoingErrors).start()
    try:
        job = write_job(tmp_path, load=LoadSettings(mode="stepped", step_seconds=1, max_users=4), max_seconds=8)
        put_json(local_uri(tmp_path / "payloads.json"), [f"5.1,{PAYLOAD},1.4"])
        env = {
            **os.environ,
            "JOB_URI": job.uri,
            "ENDPOINT_URL": server.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_SESSION_TOKEN": SESSION_TOKEN,
        }
        run = run_load_task(env, timeout=30)
    finally:
        server.stop()
    assert any(PAYLOAD.encode() in body for body in EchoingErrors.received), "the payload never reached the server"
    log = run.stdout + run.stderr
    assert run.events, log  # the task did log: its progress lines
    assert [m for m in MARKERS if m in log] == [], log[-3000:]


def test_credentials_and_targets_hide_secrets_in_their_repr() -> None:
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    target = Target("https://runtime.sagemaker.us-east-1.amazonaws.com", "ep", "us-east-1", credentials)
    shown = repr(credentials) + repr(target) + str(target)
    assert [m for m in MARKERS if m in shown] == []
    assert target.signed and target.credentials is credentials  # hidden from repr, still there to sign with
