"""Image bodies for the demo image classifier: PNG (decoded here with zlib and numpy) and ``.npy`` arrays.

The environment has no imaging library (Pillow), and the demo needs none: PNG is zlib-compressed rows, each with a
one-byte filter (None, Sub, Up, Average, Paeth; PNG specification section 9). 8-bit greyscale, RGB, palette,
greyscale+alpha and RGBA images without interlacing are read, which is what image tools write by default; anything
else is answered 400 with the reason. JPEG needs a real decoder and is answered 415 (send PNG or .npy).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 512  # the Average and Paeth filters are undone byte by byte in Python: keep the demo's bodies small
# Colour type -> channels per pixel (greyscale, RGB, palette index, greyscale+alpha, RGBA).
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class ImageError(ValueError):
    """The body is not an image this server reads; answered with 400."""


def decode_png(data: bytes) -> np.ndarray:
    """The image as float greyscale in [0, 1], shape (height, width)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ImageError("not a PNG image (its first 8 bytes are not the PNG signature)")
    header, palette, compressed = _chunks(data)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ImageError(
            f"PNG of bit depth {depth}, colour type {colour}, interlace {interlace}: only 8-bit, "
            "non-interlaced greyscale, RGB, palette, greyscale+alpha or RGBA images are read"
        )
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ImageError(f"PNG of {width}x{height} pixels: this demo model reads images up to {MAX_SIDE}x{MAX_SIDE}")
    channels = _CHANNELS[colour]
    stride = width * channels
    try:
        raw = zlib.decompress(compressed)
    except zlib.error as e:
        raise ImageError(f"PNG image data is corrupt ({e})") from None
    if len(raw) != height * (stride + 1):
        raise ImageError(f"PNG image data holds {len(raw)} bytes, expected {height * (stride + 1)}")
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    pixels = _unfilter(rows[:, 0], rows[:, 1:], channels).reshape(height, width, channels)
    if colour == 3:
        if palette is None or len(palette) % 3:
            raise ImageError("palette PNG without a valid PLTE chunk")
        table = np.frombuffer(palette, dtype=np.uint8).reshape(-1, 3)
        if int(pixels.max()) >= len(table):
            raise ImageError("palette PNG with an index beyond its palette")
        pixels = table[pixels[:, :, 0]]
    return to_grey(pixels.astype(np.float64) / 255.0)


def decode_npy(data: bytes) -> np.ndarray:
    """A ``.npy`` array (never pickled objects) as float greyscale in [0, 1], shape (height, width): 2-D is
    greyscale, 3-D is height x width x channels; integer arrays are read as 0-255."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ImageError(f"not a readable .npy array ({e})") from None
    if array.ndim not in (2, 3) or not (0 < array.shape[0] <= MAX_SIDE and 0 < array.shape[1] <= MAX_SIDE):
        raise ImageError(
            f"array of shape {array.shape}: expected (height, width) or (height, width, channels), "
            f"each side 1-{MAX_SIDE}"
        )
    if not np.issubdtype(array.dtype, np.number):
        raise ImageError(f"array of {array.dtype}: expected numbers")
    values = array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):
        values /= 255.0
    if not np.isfinite(values).all():
        raise ImageError("array values must be finite numbers")
    return to_grey(values if values.ndim == 3 else values[:, :, None])


def to_grey(pixels: np.ndarray) -> np.ndarray:
    """(height, width, channels) -> (height, width): the mean of the colour channels, alpha dropped."""
    channels = pixels.shape[2]
    colour = pixels[:, :, :3] if channels >= 3 else pixels[:, :, :1]
    grey: np.ndarray = np.clip(colour.mean(axis=2), 0.0, 1.0)
    return grey


def features(grey: np.ndarray, side: int) -> np.ndarray:
    """The model's input row: the image averaged down (or repeated up) to ``side`` x ``side``, flattened."""
    rows = _resample(grey, side, axis=0)
    return _resample(rows, side, axis=1).reshape(1, side * side)


def _resample(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    length = values.shape[axis]
    if length >= size:  # area average over size equal (to a pixel) bands
        edges = np.linspace(0, length, size + 1).astype(int)
        sums = np.add.reduceat(values, edges[:-1], axis=axis)
        counts = np.diff(edges).reshape([-1 if a == axis else 1 for a in range(values.ndim)])
        averaged: np.ndarray = sums / counts
        return averaged
    nearest: np.ndarray = np.take(values, (np.arange(size) * length) // size, axis=axis)  # nearest pixel
    return nearest


def _chunks(data: bytes) -> tuple[bytes, bytes | None, bytes]:
    """IHDR's 13 bytes, PLTE (if any), and the IDAT chunks joined; CRCs are not checked (zlib's Adler-32 is)."""
    header: bytes | None = None
    palette: bytes | None = None
    idat = bytearray()
    offset = len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if len(body) != length:
            raise ImageError(f"PNG chunk {kind!r} is cut short")
        if kind == b"IHDR":
            header = body
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        offset += 12 + length  # length, type, data, CRC
    if header is None or len(header) != 13 or not idat:
        raise ImageError("PNG without an IHDR header or image data")
    return header, palette, bytes(idat)


def _unfilter(filters: np.ndarray, rows: np.ndarray, bpp: int) -> np.ndarray:
    """Undo each row's filter (PNG spec 9.2): ``bpp`` bytes per pixel, the previous row starts as zeros."""
    out = np.zeros_like(rows)
    previous = np.zeros(rows.shape[1], dtype=np.uint8)
    for index, (kind, row) in enumerate(zip(filters.tolist(), rows, strict=True)):
        if kind == 0:
            line = row.copy()
        elif kind == 1:  # Sub: each byte adds the byte bpp to its left, i.e. a running sum per channel
            line = (np.cumsum(row.reshape(-1, bpp).astype(np.int64), axis=0) % 256).astype(np.uint8).reshape(-1)
        elif kind == 2:  # Up
            line = row + previous  # uint8 arithmetic wraps modulo 256, as PNG's does
        elif kind in (3, 4):  # Average, Paeth: each byte depends on the one just decoded
            line = _sequential(kind, row.tolist(), previous.tolist(), bpp)
        else:
            raise ImageError(f"PNG row {index} has filter type {kind}; types are 0-4")
        out[index] = line
        previous = line
    return out


def _sequential(kind: int, row: list[int], up: list[int], bpp: int) -> np.ndarray:
    line = [0] * len(row)
    for i, value in enumerate(row):
        left = line[i - bpp] if i >= bpp else 0
        above = up[i]
        if kind == 3:
            predictor = (left + above) // 2
        else:
            upper_left = up[i - bpp] if i >= bpp else 0
            estimate = left + above - upper_left
            distances = (abs(estimate - left), abs(estimate - above), abs(estimate - upper_left))
            predictor = (
                left
                if distances[0] <= distances[1] and distances[0] <= distances[2]
                else (above if distances[1] <= distances[2] else upper_left)
            )
        line[i] = (value + predictor) & 0xFF
    return np.array(line, dtype=np.uint8)
