"""Write PNG files for tests (no imaging library here): each row filtered byte by byte as the PNG specification
(section 9.2) writes it, independently of the model server's vectorised decoder, so a round trip checks both."""

from __future__ import annotations

import struct
import zlib

import numpy as np

COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)


def encode_png(pixels: np.ndarray, filters: list[int] | int = 0) -> bytes:
    """``pixels``: uint8, (height, width) or (height, width, channels); ``filters``: one type (0-4) for every row
    or one per row."""
    image = pixels if pixels.ndim == 3 else pixels[:, :, None]
    height, width, channels = image.shape
    rows = image.reshape(height, width * channels).astype(int).tolist()
    kinds = filters if isinstance(filters, list) else [filters] * height
    raw = bytearray()
    previous = [0] * (width * channels)
    for row, kind in zip(rows, kinds, strict=True):
        raw.append(kind)
        raw.extend(_filter(kind, row, previous, channels))
        previous = row
    header = struct.pack(">IIBBBBB", width, height, 8, COLOUR_TYPES[channels], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + _chunk(b"IEND", b"")
    )


def _filter(kind: int, row: list[int], up: list[int], bpp: int) -> list[int]:
    out = []
    for i, value in enumerate(row):
        left = row[i - bpp] if i >= bpp else 0
        upper_left = up[i - bpp] if i >= bpp else 0
        if kind == 0:
            predictor = 0
        elif kind == 1:
            predictor = left
        elif kind == 2:
            predictor = up[i]
        elif kind == 3:
            predictor = (left + up[i]) // 2
        else:
            p = left + up[i] - upper_left
            pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - upper_left)
            predictor = left if pa <= pb and pa <= pc else up[i] if pb <= pc else upper_left
        out.append((value - predictor) % 256)
    return out


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
