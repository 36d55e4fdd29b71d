"""Flask app implementing the SageMaker inference container contract (``GET /ping``, ``POST /invocations``).

The model is loaded when the app is created, so with gunicorn ``--preload`` it is loaded once in the master and
shared copy-on-write by the forked workers; a missing or unreadable model makes the server fail at start-up instead
of answering 5xx under load. ``/invocations`` is the load test's hot path: parsing is plain Python/numpy, and the
response is serialised with ``json.dumps`` directly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from flask import Flask, Response, request

from rightsizing_local.model_server.images import ImageError, decode_npy, decode_png, features
from rightsizing_local.model_server.serverless import THROTTLED_STATUS, THROTTLED_TYPE, ServerlessGate, settings_from

# Same limit as SageMaker real-time endpoints: bigger bodies get 413 before we read them.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
JSON = "application/json"
CSV = "text/csv"
PNG = "image/png"
NPY = "application/x-npy"


class PayloadError(ValueError):
    """The request body cannot be turned into a feature matrix; answered with 400."""


def load_model(model_path: str | os.PathLike[str]) -> Any:
    """Load a joblib-saved classifier exposing ``predict_proba`` and ``n_features_in_``."""
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    model = joblib.load(path)
    if not hasattr(model, "predict_proba") or not hasattr(model, "n_features_in_"):
        raise TypeError(f"{path} does not hold a fitted classifier with predict_proba (got {type(model).__name__})")
    return model


def create_app(model_path: str | None = None) -> Flask:
    """Build the app, loading the model from ``model_path`` or, when None, from ``$MODEL_PATH``."""
    path = model_path if model_path is not None else os.environ.get("MODEL_PATH")
    if not path:
        raise ValueError("no model: pass model_path or set MODEL_PATH")
    model = load_model(path)
    n_features = int(model.n_features_in_)
    # Set by training.py on the image classifier: it also takes image bodies, and names its classes.
    image_side: int | None = getattr(model, "rightsizing_image_side_", None)
    labels: list[str] | None = getattr(model, "rightsizing_labels_", None)
    accepted = (CSV, JSON, PNG, NPY, "application/x-image") if image_side else (CSV, JSON)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_PAYLOAD_BYTES
    app.config["RIGHTSIZING_MODEL"] = model  # kept on the app so /ping reflects whether a model is loaded
    serverless = settings_from()
    gate = ServerlessGate(serverless) if serverless else None  # made before gunicorn forks: shared by the workers

    @app.get("/ping")
    def ping() -> Response:
        loaded = app.config.get("RIGHTSIZING_MODEL") is not None
        return Response("" if loaded else "model not loaded", status=200 if loaded else 503, mimetype="text/plain")

    @app.post("/invocations")
    def invocations() -> Response:
        return invoke() if gate is None else _through_gate(gate, invoke)

    def invoke() -> Response:
        model = app.config.get("RIGHTSIZING_MODEL")
        if model is None:
            return _error(503, "model not loaded")
        content_type = request.mimetype
        if content_type not in accepted:
            why = " (JPEG needs an imaging library this demo does not use; send PNG or .npy)" if image_side else ""
            return _error(415, f"unsupported content type {content_type or '(none)'!r}{why}; use {', '.join(accepted)}")
        try:
            body = request.get_data(cache=False)
            if content_type in (CSV, JSON):
                x = _parse_csv(body) if content_type == CSV else _parse_json(body)
            else:
                x = _image_features(body, content_type, image_side or 0)
            _check_shape(x, n_features)
        except (PayloadError, ImageError) as exc:
            return _error(400, str(exc))
        if labels is not None:
            probabilities = model.predict_proba(x)
            classes = [{"label": labels[int(row.argmax())], "score": float(row.max())} for row in probabilities]
            return Response(json.dumps({"predictions": classes}), mimetype=JSON)
        scores = model.predict_proba(x)[:, 1].tolist()
        if request.accept_mimetypes.best_match((JSON, CSV), default=JSON) == CSV:
            return Response("".join(f"{s:.6g}\n" for s in scores), mimetype=CSV)
        predictions = [{"score": s, "label": int(s >= 0.5)} for s in scores]
        return Response(json.dumps({"predictions": predictions}), mimetype=JSON)

    return app


def _image_features(body: bytes, content_type: str, side: int) -> np.ndarray:
    """A PNG (image/png; application/x-image, which is PNG here) or .npy body as the model's row of pixels."""
    grey = decode_npy(body) if content_type == NPY else decode_png(body)
    return features(grey, side)


def _parse_csv(body: bytes) -> np.ndarray:
    try:
        text = body.decode("utf-8")
        rows = [[float(v) for v in line.split(",")] for line in text.splitlines() if line.strip()]
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"invalid CSV body (expected rows of comma-separated numbers, no header): {exc}") from None
    return _to_matrix(rows)


def _parse_json(body: bytes) -> np.ndarray:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"invalid JSON body: {exc}") from None
    rows = doc.get("instances") if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise PayloadError('JSON body must be {"instances": [[...], ...]}, a list of rows or a single row')
    if rows and not isinstance(rows[0], list):
        rows = [rows]  # a single row
    return _to_matrix(rows)


def _to_matrix(rows: list[Any]) -> np.ndarray:
    if not rows:
        raise PayloadError("empty body: expected at least one row of features")
    try:
        x = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"rows must be lists of numbers of equal length: {exc}") from None
    if not np.isfinite(x).all():
        raise PayloadError("features must be finite numbers (no NaN or infinity)")
    return x


def _check_shape(x: np.ndarray, n_features: int) -> None:
    if x.ndim != 2 or x.shape[1] != n_features:
        got = x.shape[1] if x.ndim == 2 else "a ragged or nested structure"
        raise PayloadError(f"expected {n_features} features per row, got {got}")


def _through_gate(gate: ServerlessGate, invoke: Callable[[], Response]) -> Response:
    """A serverless endpoint's invocation: refused (429 ThrottlingException) at MaxConcurrency, else admitted
    through any cold start."""
    if not gate.enter():
        response = _error(THROTTLED_STATUS, f"Rate exceeded: at MaxConcurrency {gate.settings.max_concurrency}")
        response.headers["x-amzn-ErrorType"] = f"{THROTTLED_TYPE}:"
        return response
    try:
        return invoke()
    finally:
        gate.leave()


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status=status, mimetype=JSON)
