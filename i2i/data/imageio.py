"""Decoding image files to tensors and writing them back, without losing bits.

``read_image`` returns a (C, H, W) tensor: uint8 for 8-bit files, int32 holding the
16-bit values for 16-bit files (torch has no general uint16 arithmetic), float32 for
float data (``.npy``, float TIFF). Nothing is rescaled here: normalisation is the task's job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from i2i.errors import I2IError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".npy")


class DataError(I2IError):
    """A file that cannot be used; the message names it."""


def read_image(path: str | Path) -> torch.Tensor:
    """Decode ``path`` to a (C, H, W) tensor (see the module docstring for dtypes)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            array = _read_pil(path)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as exc:
        raise DataError(f"{path}: cannot decode image: {type(exc).__name__}: {exc}") from None
    return _to_chw(array, path)


def image_size(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image file from its header (NPY: from the array header), without decoding."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
            return int(shape[0]), int(shape[1])
        from PIL import Image

        with Image.open(path) as img:
            return img.height, img.width
    except Exception as exc:
        raise DataError(f"{path}: cannot read the image header: {type(exc).__name__}: {exc}") from None


def _read_pil(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        img.load()  # truncated files fail here, not later
        mode = img.mode
        if mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif mode == "1":
            img = img.convert("L")
        elif mode == "CMYK" or mode == "YCbCr":
            img = img.convert("RGB")
        elif mode.startswith("I;16"):
            return np.array(img, dtype=np.uint16)
        return np.array(img)


def _to_chw(array: np.ndarray, path: Path) -> torch.Tensor:
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise DataError(f"{path}: expected a 2-D image (H, W) or (H, W, C), got an array of shape {array.shape}")
    if array.dtype == np.uint16:
        array = array.astype(np.int32)
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype not in (np.uint8, np.int32, np.float32):
        if np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer):
            array = array.astype(np.float32)
        else:
            raise DataError(f"{path}: unsupported pixel type {array.dtype}")
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def write_image(path: str | Path, image: torch.Tensor) -> None:
    """Write a (C, H, W) tensor: uint8 -> 8-bit PNG/JPEG/..., int32/uint16 -> 16-bit PNG/TIFF,
    float -> ``.npy`` (or float TIFF). 1, 3 or 4 channels for image formats."""
    from PIL import Image

    path = Path(path)
    array = image.detach().cpu().numpy().transpose(1, 2, 0)
    if path.suffix.lower() == ".npy":
        np.save(path, array[:, :, 0] if array.shape[2] == 1 else array)
        return
    channels = array.shape[2]
    if image.dtype in (torch.int32, torch.uint16):
        if channels != 1:
            raise DataError(f"{path}: 16-bit output is written as single-channel PNG/TIFF, got {channels} channels")
        Image.fromarray(array[:, :, 0].astype(np.uint16)).save(path)
        return
    if image.dtype.is_floating_point:
        raise DataError(f"{path}: float images are written as .npy; convert to uint8/uint16 for {path.suffix}")
    if channels not in (1, 3, 4):
        raise DataError(f"{path}: {channels}-channel images need .npy; PNG takes 1, 3 or 4 channels")
    Image.fromarray(array[:, :, 0] if channels == 1 else array).save(path)
