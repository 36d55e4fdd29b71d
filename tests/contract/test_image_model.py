"""The local image classifier: binary bodies (PNG, .npy) through SageMaker's /invocations, and the PNG decoder
against PNGs written byte by byte by tests/png_files.py (every filter type, every colour type it reads)."""

from __future__ import annotations

import io
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from flask.testing import FlaskClient
from png_files import encode_png

from rightsizing_local.model_server import create_app, ensure_builtin_model
from rightsizing_local.model_server.images import ImageError, decode_npy, decode_png, features
from rightsizing_local.model_server.training import IMAGE_LABELS, IMAGE_SIDE, synthetic_image

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture(scope="module")
def client() -> Iterator[FlaskClient]:
    app = create_app(str(ensure_builtin_model("image-classifier")))
    yield app.test_client()


def shape_png(label: str, seed: int, channels: int = 3, side: int = 32) -> bytes:
    grey = (synthetic_image(label, side, np.random.default_rng(seed)) * 255).round().astype(np.uint8)
    pixels = grey if channels == 1 else np.stack([grey] * channels, axis=2)
    return encode_png(pixels, [(seed + row) % 5 for row in range(side)])


def test_png_bodies_are_classified(client: FlaskClient) -> None:
    right = 0
    for seed in range(5):
        for label in IMAGE_LABELS:
            reply = client.post("/invocations", data=shape_png(label, seed), content_type="image/png")
            assert reply.status_code == 200, reply.json
            prediction = reply.json["predictions"][0]  # type: ignore[index]
            assert prediction["label"] in IMAGE_LABELS and 0 <= prediction["score"] <= 1
            right += prediction["label"] == label
    assert right >= 13  # of 15: a trained model, not a constant answer


def test_the_sample_payloads_are_classified_as_named(client: FlaskClient) -> None:
    bodies = {"disc": (EVENTS / "payloads/images/disc.png").read_bytes()}
    with tarfile.open(EVENTS / "payloads/images/shapes.tar.gz") as archive:
        for member in archive.getmembers():
            bodies[member.name.removesuffix(".png")] = archive.extractfile(member).read()  # type: ignore[union-attr]
    for label, body in bodies.items():
        reply = client.post("/invocations", data=body, content_type="image/png")
        assert reply.status_code == 200 and reply.json["predictions"][0]["label"] == label  # type: ignore[index]


def test_npy_bodies_are_read_without_pickle(client: FlaskClient) -> None:
    buffer = io.BytesIO()
    np.save(buffer, synthetic_image("vertical-stripes", 24, np.random.default_rng(3)))
    reply = client.post("/invocations", data=buffer.getvalue(), content_type="application/x-npy")
    assert reply.status_code == 200 and reply.json["predictions"][0]["label"] == "vertical-stripes"  # type: ignore[index]

    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    reply = client.post("/invocations", data=pickled.getvalue(), content_type="application/x-npy")
    assert reply.status_code == 400 and "not a readable .npy array" in reply.json["error"]  # type: ignore[index]


def test_unreadable_or_unsupported_images_are_refused(client: FlaskClient) -> None:
    jpeg = client.post("/invocations", data=b"\xff\xd8\xff\xe0", content_type="image/jpeg")
    assert jpeg.status_code == 415 and "send PNG or .npy" in jpeg.json["error"]  # type: ignore[index]
    corrupt = shape_png("disc", 1)[:-40]
    assert client.post("/invocations", data=corrupt, content_type="image/png").status_code == 400
    assert client.post("/invocations", data=b"1,2,3", content_type="image/png").status_code == 400


def test_the_fraud_model_takes_no_images() -> None:
    client = create_app(str(ensure_builtin_model("fraud-classifier"))).test_client()
    reply = client.post("/invocations", data=shape_png("disc", 0), content_type="image/png")
    assert reply.status_code == 415


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("row_filter", [0, 1, 2, 3, 4])
def test_png_decoder_undoes_every_filter(channels: int, row_filter: int) -> None:
    rng = np.random.default_rng(channels * 10 + row_filter)
    pixels = rng.integers(0, 256, size=(7, 9, channels), dtype=np.uint8)
    grey = decode_png(encode_png(pixels, row_filter))
    colour = pixels[:, :, :3] if channels >= 3 else pixels[:, :, :1]
    np.testing.assert_allclose(grey, colour.astype(np.float64).mean(axis=2) / 255, atol=1e-12)


def test_png_decoder_reads_palettes_and_refuses_what_it_does_not_read() -> None:
    palette = bytes([0, 0, 0, 255, 255, 255])
    indices = bytes([0, 0, 1, 0, 1, 0])  # two rows of two pixels, filter byte first
    header = (2).to_bytes(4, "big") * 2 + bytes([8, 3, 0, 0, 0])
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"PLTE", palette)
    png += _chunk(b"IDAT", zlib.compress(indices)) + _chunk(b"IEND", b"")
    np.testing.assert_allclose(decode_png(png), [[0, 1], [1, 0]])

    sixteen_bit = png.replace(bytes([8, 3, 0, 0, 0]), bytes([16, 3, 0, 0, 0]))
    with pytest.raises(ImageError, match="only 8-bit"):
        decode_png(sixteen_bit)
    with pytest.raises(ImageError, match="each side 1-512"):
        decode_npy(_npy(np.zeros((513, 4))))


def test_features_average_any_size_down_or_up_to_the_model_input() -> None:
    assert features(np.ones((40, 37)), IMAGE_SIDE).shape == (1, IMAGE_SIDE * IMAGE_SIDE)
    halves = np.hstack([np.zeros((32, 16)), np.ones((32, 16))])
    row = features(halves, IMAGE_SIDE).reshape(IMAGE_SIDE, IMAGE_SIDE)
    assert (row[:, :8] == 0).all() and (row[:, 8:] == 1).all()
    assert features(np.eye(4), IMAGE_SIDE).shape == (1, IMAGE_SIDE * IMAGE_SIDE)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
