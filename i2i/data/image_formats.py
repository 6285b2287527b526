"""The image-file formats of ``i2i predict``: PNG, JPEG, TIFF, BMP, WebP and NPY, decoded and
encoded by :mod:`i2i.data.imageio`. Registered by the built-in ``i2i.formats`` plugin.

PNG and TIFF keep the input's bit depth: 8 or 16 bits, or float as float32 TIFF and as
16-bit PNG (PNG has no float); JPEG, BMP and WebP are always 8-bit (JPEG drops an alpha
channel), JPEG and WebP at ``quality`` (``--format-option quality=90``); NPY holds float32.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from annotated_types import Interval

from i2i.data.imageio import LOSSY_QUALITY, TIFF_SUFFIXES, DataError, read_image, write_array
from i2i.inference.formats import Decoded, Format

Quality = Annotated[int, Interval(ge=1, le=100)]


def read_image_file(path: Path) -> Decoded:
    """PNG, JPEG, BMP, TIFF, WebP, NPY through :func:`i2i.data.imageio.read_image`."""
    return Decoded(path, read_image(path))


def quantise(image: torch.Tensor, bits: int, rows: int = 256) -> np.ndarray:
    """[0, 1] floats (C, H, W) -> (H, W, C) unsigned integers of ``bits`` (8 or 16), rounded;
    ``rows`` rows at a time, so no full-size float temporaries are made."""
    top = 255 if bits == 8 else 65535
    c, h, w = image.shape
    out = np.empty((h, w, c), dtype=np.uint8 if bits == 8 else np.uint16)
    for r in range(0, h, rows):
        part = (image[:, r:r + rows].clamp(0, 1) * top).round_().to(torch.int32)
        out[r:r + rows] = part.permute(1, 2, 0).numpy()
    return out


def write_image_file(path: Path, image: torch.Tensor, like: Decoded, quality: int = LOSSY_QUALITY) -> None:
    """Write ``image`` at the bit depth the suffix and the input allow (see the module)."""
    suffix = path.suffix.lower()
    channels = image.shape[0]
    if channels > 4 and suffix not in TIFF_SUFFIXES:
        raise DataError(f"{path}: {channels}-channel outputs need .tif or .npy (other image files take 1 to 4)")
    bits = like.bits if suffix in (".png", *TIFF_SUFFIXES) else "8"
    if bits == "float" and suffix == ".png":
        bits = "16"
    if bits == "float":
        write_array(path, image.permute(1, 2, 0).numpy().astype(np.float32))
        return
    array = quantise(image, 8 if bits == "8" else 16)
    if suffix in (".jpg", ".jpeg") and channels in (2, 4):
        array = array[:, :, :channels - 1]  # JPEG has no alpha
    write_array(path, array, quality=quality)


def write_npy(path: Path, image: torch.Tensor, like: Decoded) -> None:
    """float32 ``(H, W)`` for one channel, else ``(H, W, C)`` (the layout ``.npy`` inputs use)."""
    write_array(path, image.permute(1, 2, 0).numpy().astype(np.float32))


def png() -> Format:
    """PNG, 8 or 16 bits, 1 to 4 channels (lossless)."""
    return Format("png", (".png",), read_image_file, write_image_file, preview=True)


def jpeg(quality: Quality = LOSSY_QUALITY) -> Format:
    """JPEG, 8-bit grey or RGB, at ``quality`` (1-100)."""
    return Format("jpeg", (".jpg", ".jpeg"), read_image_file,
                  functools.partial(write_image_file, quality=quality), preview=True)


def tiff() -> Format:
    """TIFF, 8 or 16 bits or float32, any number of channels (lossless)."""
    return Format("tiff", (".tif", ".tiff"), read_image_file, write_image_file, preview=True)


def bmp() -> Format:
    """BMP, 8-bit."""
    return Format("bmp", (".bmp",), read_image_file, write_image_file, preview=True)


def webp(quality: Quality = LOSSY_QUALITY) -> Format:
    """WebP, 8-bit, at ``quality`` (1-100)."""
    return Format("webp", (".webp",), read_image_file,
                  functools.partial(write_image_file, quality=quality), preview=True)


def npy() -> Format:
    """NumPy arrays: the output in data units as float32 (no display mapping)."""
    return Format("npy", (".npy",), read_image_file, write_npy)


#: The built-in image formats by registered name.
IMAGE_FORMATS = {"png": png, "jpeg": jpeg, "tiff": tiff, "bmp": bmp, "webp": webp, "npy": npy}
