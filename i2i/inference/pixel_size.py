"""Physical pixel size: a model trained at some pixel sizes (mm) is applied to images of
another pixel size by resampling them to the nearest size it was trained at and back.

Training records the range of pixel sizes of its training samples (sources that know
them: the CT sources report each slice's spacing) in every weights file. ``i2i predict``
and ``i2i eval`` then resample an input whose pixel size lies outside that range to the
range's nearest end, run the model there, and resample the output back to the input's
grid (``--native`` turns this off); inside the range nothing is resampled. The physics of
a CT evaluation pair still runs at the slice's own resolution: only the network sees the
resampled image.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from i2i.data.imageio import DataError
from i2i.messages import note
from i2i.runs.checkpoint import read_metadata

#: Relative difference of pixel sizes below which no resampling is done.
TOLERANCE = 0.02
#: At most this many samples are asked for their spacing when a run records its geometry.
SURVEY = 4096
#: The largest factor an image is resampled by for a model's pixel size, either way: beyond
#: it the image would keep too few pixels (or gain too many) to mean anything.
MAX_FACTOR = 16.0


class ResamplingError(DataError):
    """An image's pixel size is too far from the model's to resample it (:data:`MAX_FACTOR`)."""


@dataclass(frozen=True)
class PixelRange:
    """The pixel sizes (mm, smallest and largest side) a model was trained at."""

    low: float
    high: float

    def target(self, pixel_mm: float) -> float | None:
        """The pixel size to resample an image of ``pixel_mm`` to, or ``None`` to leave it."""
        nearest = min(max(pixel_mm, self.low), self.high)
        return None if abs(nearest - pixel_mm) <= TOLERANCE * nearest else nearest

    def as_json(self) -> str:
        return json.dumps({"pixel_mm": [self.low, self.high]})

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> PixelRange | None:
        """The range recorded in a weights file's ``geometry`` entry, if any."""
        try:
            low, high = json.loads(metadata.get("geometry", "{}")).get("pixel_mm") or (None, None)
        except (ValueError, TypeError):
            return None
        if not (isinstance(low, (int, float)) and isinstance(high, (int, float))):
            return None
        low, high = float(low), float(high)  # a spacing of 0, < 0 or NaN recorded by an older i2i is ignored
        return cls(low, high) if math.isfinite(low) and math.isfinite(high) and 0 < low <= high else None


def survey(dataset, limit: int = SURVEY) -> dict[str, list[float]] | None:
    """The geometry ``dataset``'s samples have, for a checkpoint to record: ``pixel_mm`` and
    ``size_px`` as ``[smallest, largest]`` (``spacing_of(i)`` = (row_mm, col_mm) and
    ``size_of(i)`` asked of at most ``limit`` evenly spread samples), or ``None`` when the
    source does not know its pixel sizes (samples of unknown spacing, NaN, are not counted)."""
    if len(dataset) == 0:
        return None
    step = max(1, math.ceil(len(dataset) / limit))
    try:
        sizes = [float(v) for i in range(0, len(dataset), step) for v in dataset.spacing_of(i)]
    except AttributeError:
        return None
    sizes = [s for s in sizes if math.isfinite(s) and s > 0]
    if not sizes:
        return None
    record = {"pixel_mm": [min(sizes), max(sizes)]}
    size_of = getattr(dataset, "size_of", None)
    if size_of is not None:
        sides = [int(v) for i in range(0, len(dataset), step) for v in size_of(i)]
        record["size_px"] = [min(sides), max(sides)]
    return record


def say_geometry_change(init_source: Any, geometry: dict | None, source: Any) -> None:
    """Print one line when a fine-tuned run's training pixel sizes (``geometry``, see
    :func:`survey`) lie outside those its i2i checkpoint (``init_source``, an
    :class:`~i2i.assembly.init_from.InitSource` or None) was trained at, naming the
    ``source`` component's ``pixel_size_mm`` option when it has one."""
    weights = init_source.generator if init_source is not None and init_source.layout == "i2i" else None
    trained = PixelRange.from_metadata(read_metadata(weights)) if weights is not None else None
    sizes = (geometry or {}).get("pixel_mm")
    if trained is None or not sizes or all(trained.target(float(s)) is None for s in sizes):
        return
    fix = f"; source.pixel_size_mm = {min(max(sizes[0], trained.low), trained.high):.3g} trains at the checkpoint's" \
        if "pixel_size_mm" in source.parameters() else ""
    note(f"fine-tuning: the checkpoint was trained at {trained.low:.3g}-{trained.high:.3g} mm pixels and this run's "
         f"training images have {sizes[0]:.3g}-{sizes[1]:.3g} mm: the model will learn their pixel size and record "
         f"it{fix}")


def resampling_note(trained: PixelRange, resampled: int, images: int, detail: str, native: str) -> str:
    """The one line that says ``resampled`` of ``images`` images were resampled to the model's
    ``trained`` pixel sizes and back (``detail`` follows the grid, ``native`` says what
    ``--native`` does): ``i2i eval``, ``predict --pairs`` and ``predict`` say it alike."""
    return (f"{resampled} of {images} image(s) have pixels outside the {trained.low:.3g}-{trained.high:.3g} mm the "
            f"model was trained at: each was resampled to the nearest trained size for the model and its output back "
            f"to the image's own grid{detail}; {native}")


def resample(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``image`` (N, C, H, W) resampled to ``size``: antialiased bilinear when shrinking,
    bicubic when enlarging (values of smooth regions kept, edges not ringing across air)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    shrink = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    mode = "bilinear" if shrink else "bicubic"
    return F.interpolate(image.float(), size=size, mode=mode, align_corners=False, antialias=shrink)


def target_size(size: Sequence[int], spacing: Sequence[float], trained: PixelRange | None) -> tuple[int, int] | None:
    """The (H, W) an image of ``size`` and ``spacing`` is resampled to for a model trained at
    ``trained`` pixel sizes (each axis to its nearest trained size), or ``None`` to leave it
    (an unknown, NaN, spacing is left). A factor beyond :data:`MAX_FACTOR` is a
    :class:`ResamplingError`."""
    if trained is None or spacing is None or not all(math.isfinite(float(s)) and float(s) > 0 for s in spacing):
        return None
    targets = [trained.target(float(s)) for s in spacing]
    if all(t is None for t in targets):
        return None
    check_factor(size, spacing, [t or float(s) for s, t in zip(spacing, targets)], "the model was trained at",
                 "keep its own pixel size (--native)")
    return tuple(max(1, round(n * float(s) / (t or float(s)))) for n, s, t in zip(size, spacing, targets))  # type: ignore[return-value]


def check_factor(size: Sequence[int], spacing: Sequence[float], wanted: Sequence[float], why: str,
                 instead: str) -> None:
    """Refuse resampling an image of ``size`` pixels of ``spacing`` mm to ``wanted`` mm by more
    than :data:`MAX_FACTOR` on an axis (``why`` says where ``wanted`` comes from, ``instead``
    what else to do)."""
    factor = max(max(float(w) / float(s), float(s) / float(w)) for s, w in zip(spacing, wanted))
    if factor > MAX_FACTOR:
        new = "x".join(str(max(1, round(n * float(s) / float(w)))) for n, s, w in zip(size, spacing, wanted))
        raise ResamplingError(
            f"an image of {size[0]}x{size[1]} pixels of {float(spacing[0]):.3g} x {float(spacing[1]):.3g} mm would be "
            f"resampled {factor:.0f}x, to {new} pixels of {float(wanted[0]):.3g} mm ({why}); i2i resamples by at most "
            f"{MAX_FACTOR:g}x: check the image's pixel spacing (DICOM PixelSpacing, NIfTI pixdim), or {instead}")


def forward_at_trained_pixel_size(run, x: torch.Tensor, spacing: torch.Tensor | None,
                                  trained: PixelRange | None) -> torch.Tensor:
    """``run(x)`` (a generator call on a network-range batch), each image first resampled to
    the pixel size the model was trained at and its output resampled back (see
    :func:`target_size`); images that need nothing run as they are, in one batch."""
    size = tuple(x.shape[-2:])
    sizes = [target_size(size, spacing[i].tolist(), trained) if spacing is not None else None
             for i in range(x.shape[0])]
    if all(s is None for s in sizes):
        return run(x)
    out: list[torch.Tensor | None] = [None] * x.shape[0]
    for wanted in dict.fromkeys(sizes):
        picks = [i for i, s in enumerate(sizes) if s == wanted]
        part = x[picks]
        y = run(part) if wanted is None else resample(run(resample(part, wanted)), size)
        for j, i in enumerate(picks):
            out[i] = y[j]
    return torch.stack(out)  # type: ignore[arg-type]
