"""A minimal 16-bit PNG encoder for 1-4 channels (Pillow writes 16-bit PNGs only for one
channel). Lossless: zlib-compressed rows, filter type 0."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # grey, grey+alpha, RGB, RGBA


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16(path: str | Path, array: np.ndarray, level: int = 6) -> None:
    """Write an (H, W) or (H, W, C) array of uint16 values (C in 1..4) as a 16-bit PNG."""
    if array.ndim == 2:
        array = array[:, :, None]
    h, w, c = array.shape
    if c not in COLOR_TYPES:
        raise ValueError(f"16-bit PNG takes 1 to 4 channels, got {c}")
    rows = np.empty((h, 1 + w * c * 2), dtype=np.uint8)
    rows[:, 0] = 0
    rows[:, 1:] = np.ascontiguousarray(array, dtype=">u2").view(np.uint8).reshape(h, -1)
    header = struct.pack(">IIBBBBB", w, h, 16, COLOR_TYPES[c], 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(_chunk(b"IHDR", header))
        f.write(_chunk(b"IDAT", zlib.compress(rows.tobytes(), level)))
        f.write(_chunk(b"IEND", b""))
