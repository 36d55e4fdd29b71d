"""Built-in demo model for local mode: a small fraud-style classifier trained on synthetic data at first use.

Nothing is shipped in the repository: the model is trained in a few seconds from a seeded generator and cached with
joblib, so every machine gets the same model and later runs start instantly. Its size is chosen for the load test,
not for accuracy: one single-row prediction costs a few milliseconds of CPU, which gives a gunicorn sync worker a
capacity of a few hundred requests per second, low enough for a load generator on the same small machine to saturate.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np

N_FEATURES = 20
MODEL_VERSION = "v1"
BUILTIN_MODELS: tuple[str, ...] = ("fraud-classifier", "image-classifier")

# The image classifier reads IMAGE_SIDE x IMAGE_SIDE greyscale pixels (any PNG or .npy image is averaged down to
# that) and tells three synthetic shapes apart: the demo for binary request bodies.
IMAGE_SIDE = 16
IMAGE_LABELS: tuple[str, ...] = ("horizontal-stripes", "vertical-stripes", "disc")
_IMAGES_PER_LABEL = 600

# Synthetic "transactions": ~3% fraud, a handful of informative features, the rest noise. Fixed seed so that the
# training set and the demo payloads (sample_rows) come from the same distribution on every machine.
_DATASET_SEED = 7
_N_SAMPLES = 20_000
_POSITIVE_RATE = 0.03

# 50 trees of depth <= 10: ~4.5 ms of CPU per single-row predict_proba. sklearn's per-tree Python overhead
# (~0.1 ms) dominates, so latency scales with n_estimators and hardly with depth or with the number of rows.
_N_ESTIMATORS = 50
_MAX_DEPTH = 10


def default_cache_dir() -> Path:
    """``$RIGHTSIZING_CACHE_DIR`` if set, else ``~/.cache/rightsizing/models``."""
    env = os.environ.get("RIGHTSIZING_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rightsizing" / "models"


def model_path(name: str = "fraud-classifier", cache_dir: Path | None = None) -> Path:
    """Where ``ensure_builtin_model`` caches the model ``name`` (whether or not it exists yet)."""
    return (cache_dir if cache_dir is not None else default_cache_dir()) / f"{name}-{MODEL_VERSION}.joblib"


def ensure_builtin_model(name: str = "fraud-classifier", cache_dir: Path | None = None) -> Path:
    """Return the path of the cached built-in model ``name``, training and caching it on first use."""
    if name not in BUILTIN_MODELS:
        raise ValueError(f"unknown built-in model {name!r}; available: {', '.join(BUILTIN_MODELS)}")
    path = model_path(name, cache_dir)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    model = _train_images() if name == "image-classifier" else _train()
    # Dump to a temporary file in the same directory, then rename: concurrent first uses each write their own file
    # and the atomic rename means readers only ever see a complete model (last writer wins, contents are identical).
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            joblib.dump(model, fh)
        os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; the cache may be shared (e.g. by a container user)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def sample_rows(n: int, seed: int = 0) -> list[list[float]]:
    """``n`` feature rows drawn from the training distribution (about 3% of them fraud-like), for demo payloads."""
    if n < 0:
        raise ValueError("n must be >= 0")
    x, _ = _dataset()
    idx = np.random.default_rng(seed).integers(0, len(x), size=n)
    # 4 decimals keep CSV/JSON payloads short without changing what the model sees in any meaningful way.
    rows: list[list[float]] = np.round(x[idx], 4).tolist()
    return rows


def _dataset() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification  # lazy: sklearn import costs ~1 s, only needed here

    x, y = make_classification(
        n_samples=_N_SAMPLES,
        n_features=N_FEATURES,
        n_informative=8,
        n_redundant=4,
        n_clusters_per_class=3,
        weights=[1.0 - _POSITIVE_RATE],
        flip_y=0.005,
        class_sep=1.2,
        random_state=_DATASET_SEED,
    )
    return x, y


def _train() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    x, y = _dataset()
    model = RandomForestClassifier(
        n_estimators=_N_ESTIMATORS,
        max_depth=_MAX_DEPTH,
        class_weight="balanced_subsample",
        n_jobs=-1,  # use every core to train...
        random_state=0,
    )
    model.fit(x, y)
    # ...but predict on one: gunicorn scales with worker processes, and threads inside a worker would contend with
    # the other workers (and with the load generator) for the same cores.
    model.n_jobs = 1
    return model


def synthetic_image(label: str, side: int, rng: np.random.Generator) -> np.ndarray:
    """A ``side`` x ``side`` greyscale image in [0, 1] of one of ``IMAGE_LABELS``, with random phase, size and
    noise: stripes of a random period either way, or a disc at a random place."""
    y, x = np.mgrid[0:side, 0:side] / side
    if label == "disc":
        cy, cx, radius = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
        image = ((y - cy) ** 2 + (x - cx) ** 2 < radius**2).astype(np.float64)
    else:
        period, phase = rng.uniform(0.15, 0.35), rng.uniform(0, 1)
        axis = y if label == "horizontal-stripes" else x
        image = (np.sin(2 * np.pi * (axis / period + phase)) > 0).astype(np.float64)
    noisy: np.ndarray = np.clip(image * rng.uniform(0.6, 1.0) + rng.normal(0, 0.15, image.shape), 0.0, 1.0)
    return noisy


def _train_images() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(_DATASET_SEED)
    images = [
        (synthetic_image(label, IMAGE_SIDE, rng).reshape(-1), index)
        for index, label in enumerate(IMAGE_LABELS)
        for _ in range(_IMAGES_PER_LABEL)
    ]
    x = np.array([pixels for pixels, _ in images])
    y = np.array([label for _, label in images])
    model = RandomForestClassifier(n_estimators=_N_ESTIMATORS, max_depth=_MAX_DEPTH, n_jobs=-1, random_state=0)
    model.fit(x, y)
    model.n_jobs = 1
    # Read by the model server: this model takes images (PNG, .npy) and names its classes.
    model.rightsizing_image_side_ = IMAGE_SIDE
    model.rightsizing_labels_ = list(IMAGE_LABELS)
    return model
