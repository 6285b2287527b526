"""Resizing decoded images without changing their type (8-bit stays 8-bit, 16-bit 16-bit)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of a (C, H, W) or (N, C, H, W) tensor to ``size`` = (H, W), antialiased
    when shrinking. Integer images are rounded and clamped back to their type's range
    (the reference resizes 8-bit images with PIL the same way); floats stay floats,
    clamped to their input range (no bicubic overshoot)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    batched = image.ndim == 4
    x = image if batched else image.unsqueeze(0)
    dtype = x.dtype
    low, high = x.amin(), x.amax()
    y = F.interpolate(x.float(), size=size, mode="bicubic", align_corners=False, antialias=True)
    y = y.clamp(low.float(), high.float())
    if not dtype.is_floating_point:
        y = y.round().to(dtype)
    return y if batched else y.squeeze(0)


def scale_width_size(height: int, width: int, target_width: int, crop_size: int) -> tuple[int, int]:
    """The reference's ``scale_width``: width becomes ``target_width``, aspect kept, height at
    least ``crop_size`` (so a later crop fits)."""
    if width == target_width and height >= crop_size:
        return height, width
    return max(int(round(target_width * height / width)), crop_size), target_width


def fixed_size(preprocess: str, height: int, width: int, load_size: int, crop_size: int) -> tuple[int, int]:
    """The size a worker decodes an image to for a preprocessing mode."""
    if preprocess == "resize_and_crop":
        return load_size, load_size
    if preprocess in ("scale_width", "scale_width_and_crop"):
        return scale_width_size(height, width, load_size, crop_size)
    return height, width


#: What an evaluation scores: ``full``, the whole image at the training scale (the pix2pix test
#: protocol), or ``crop``, the centre ``crop_size`` window of the training-size image.
EVAL_FRAMES = ("full", "crop")


def frame_size(frame: str, preprocess: str, height: int, width: int, load_size: int, crop_size: int) -> tuple[int, int]:
    """The size an image is decoded to for ``frame``: ``train`` and ``crop`` use the training
    preprocessing (:func:`fixed_size`; random or centre crops are cut later, on the device);
    ``full`` is the whole image as the reference's test phase sees it (``load_size`` taken
    as ``crop_size``): ``resize_and_crop`` -> ``crop_size`` x ``crop_size``, ``scale_width*``
    -> ``crop_size`` wide with the aspect kept, ``crop`` and ``none`` -> the image's own size."""
    if frame in ("train", "crop"):
        return fixed_size(preprocess, height, width, load_size, crop_size)
    if frame != "full":
        raise ValueError(f"unknown frame {frame!r}; frames: train, {', '.join(EVAL_FRAMES)}")
    if preprocess == "resize_and_crop":
        return crop_size, crop_size
    if preprocess in ("scale_width", "scale_width_and_crop"):
        return scale_width_size(height, width, crop_size, 1)
    return height, width
