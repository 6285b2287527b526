"""``i2i predict``'s engine: a trained generator on decoded images of any size (the files
themselves: :mod:`i2i.inference.files`).

Per image: a pixel size outside the model's training range resampled to it
(:mod:`i2i.inference.pixel_size`) -> tiles (:mod:`i2i.inference.tiling`;
one tile when the image is no larger than ``tile``) -> ``task.input_from_image`` per tile ->
the generator, padded to its ``size_divisor`` -> ``task.decode_output`` per tile -> blended
into a float32 image on the CPU -> ``task.finalize_output`` on the whole image -> written in
the input's format and bit depth (resampled back to the input's grid first, if it was).
Tiling takes ``encode_input`` and ``decode_output`` to be per-pixel maps (true of the
built-in tasks but for mr_to_ct's per-slice percentile normalisation); a task whose input
depends on the whole image sets ``pixelwise_io = False`` and gets its input computed once
for the whole image. Tiles of consecutive images that have one shape share batches of
``batch_size``, so many small files are batched too, and a large one needs memory for
``batch_size`` tiles, not for the whole image. A volume (a reader's
:class:`~i2i.data.formats.Stack`: NIfTI, multi-frame DICOM) is predicted as its 2-D
slices and written once, as one file like its input. With ``from_clean`` an input is a
clean image: the model's input is made from it whole, at its own pixel size, by the task's
physics as eval makes it (:mod:`i2i.inference.task_input`), then resampled (in the network
range, as eval does) and tiled like any other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from i2i.data.formats import Decoded
from i2i.devices import autocast, check_precision
from i2i.errors import UsageError
from i2i.finite import describe_nonfinite
from i2i.inference.model import LoadedModel
from i2i.inference.pixel_size import ResamplingError, resample, target_size
from i2i.inference.task_input import InputMaker
from i2i.inference.tiling import Blender, Box, TilePlan
from i2i.nn.protocols import fp32_output_layer
from i2i.nn.sizing import forward_any_size

#: Smallest ``--tile`` (pixels per side): smaller tiles lose the context the network needs.
MIN_TILE = 64


@dataclass(frozen=True)
class PredictOptions:
    """How to predict. ``tile <= 0`` never tiles; ``train_mode`` runs the generator as the
    reference's test script does by default (dropout on, batch-norm batch statistics), one
    image (or tile) per forward pass so each is normalised on its own. ``native`` runs at
    the inputs' own pixel size even outside the model's trained one. ``from_clean`` takes
    the inputs as clean images and makes the model's input from each with the task's physics
    (:class:`~i2i.inference.task_input.InputMaker`; image ``i`` of a run seeded as eval seeds
    image ``i``). ``format_options`` are options of the output format (``--format-option quality=90``)."""

    tile: int = 1024
    overlap: int = 256
    batch_size: int = 4
    precision: str = "fp32"
    train_mode: bool = False
    convert_channels: bool = False
    ext: str | None = None
    native: bool = False
    from_clean: bool = False
    format_options: Mapping[str, Any] = field(default_factory=dict)


def convert_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """A decoded (C, H, W) image with ``channels`` channels: grey -> RGB repeats the grey;
    RGB(A) -> grey takes the luma (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B); RGBA -> RGB
    and grey+alpha -> grey drop the alpha. The dtype is kept (integers rounded)."""
    c = image.shape[0]
    if c == channels:
        return image
    if channels == 1 and c in (2, 3, 4):
        if c == 2:
            return image[:1]
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64, device=image.device).view(3, 1, 1)
        luma = (image[:3].double() * weights).sum(0, keepdim=True)
        return luma.round().to(image.dtype) if not image.dtype.is_floating_point else luma.to(image.dtype)
    if channels == 3 and c in (1, 2):
        return image[:1].expand(3, -1, -1).contiguous()
    if channels == 3 and c == 4:
        return image[:3]
    raise UsageError(f"cannot convert a {c}-channel image to {channels} channels "
                     "(conversions: grey <-> RGB, dropping alpha)")


def refuse_nonfinite(path: Path, images: Sequence[torch.Tensor]) -> None:
    """Fail naming ``path`` when its decoded images hold NaN or infinite values (the output
    would carry them, and nothing else would say so)."""
    if not any(image.is_floating_point() for image in images):
        return
    bad = describe_nonfinite(torch.cat([i.flatten() for i in images]) if len(images) > 1 else images[0])
    if bad:
        raise UsageError(f"{path}: the input holds {bad}; replace them (e.g. by the background value) "
                         "before predicting")


class Predictor:
    """Runs a :class:`LoadedModel` on decoded images, tiled and batched."""

    def __init__(self, model: LoadedModel, options: PredictOptions = PredictOptions()):
        if options.batch_size < 1:
            raise UsageError(f"--batch-size: must be >= 1, got {options.batch_size}")
        if options.tile < 0 or options.overlap < 0:
            raise UsageError(f"--tile/--overlap: must be >= 0, got {options.tile}/{options.overlap}")
        smallest = max(MIN_TILE, 2 * options.overlap)
        if 0 < options.tile < smallest:
            raise UsageError(f"--tile {options.tile}: tiles must be at least {smallest} pixels per side (twice "
                             f"--overlap {options.overlap}, and at least {MIN_TILE}) to give each tile the context "
                             "of the untiled image; use a larger --tile, a smaller --overlap, or --tile 0 to "
                             "never tile")
        check_precision(options.precision, model.device)
        fp32_output_layer(model.generator, model.task, options.precision)
        self.model = model
        self.options = options
        self.tile = options.tile
        self.overlap = options.overlap
        self.pixel_range = None if options.native else model.pixel_range
        #: ``(path, size, resampled size)`` of each image resampled to the model's pixel size.
        self.resampled: list[tuple[Path, tuple[int, int], tuple[int, int]]] = []
        self.maker = InputMaker(model) if options.from_clean else None
        #: Images taken so far; with ``from_clean``, the next one's index (its seed, as eval's image of that index).
        self.seen = 0
        model.generator.train(options.train_mode)

    def checked_image(self, decoded: Decoded) -> torch.Tensor:
        """The decoded (C, H, W) image the task can take (channels converted when
        ``convert_channels`` and needed); mismatches fail naming the file. Checked on a
        2 x 2 corner, so no full-size work is done here."""
        task = self.model.task
        image = decoded.image
        refuse_nonfinite(decoded.path, [image])
        try:
            task.input_from_image(image[:, :2, :2])
            return image
        except (UsageError, ValueError) as exc:
            first = exc
        if self.options.convert_channels:
            try:
                converted = convert_channels(image, task.in_channels)
                task.input_from_image(converted[:, :2, :2])
                return converted
            except (UsageError, ValueError) as exc:
                first = exc
        hint = "" if self.options.convert_channels else \
            " (or pass --convert-channels to convert grey <-> RGB and drop alpha)"
        raise UsageError(f"{decoded.path}: {first}{hint}") from None

    def trained_size(self, decoded: Decoded, image: torch.Tensor) -> tuple[int, int] | None:
        """The size to resample ``decoded`` to, when its pixel spacing (``meta["spacing"]``,
        mm) lies outside the pixel sizes the model was trained at (``native`` turns it off)."""
        if self.pixel_range is None or decoded.meta.get("spacing") is None:
            return None
        try:
            return target_size(tuple(image.shape[-2:]), decoded.meta["spacing"], self.pixel_range)
        except ResamplingError as exc:
            raise ResamplingError(f"{decoded.path}: {exc}") from None

    def plan(self, height: int, width: int) -> TilePlan:
        return TilePlan(height, width, self.tile, self.overlap, self.model.size_divisor)

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.options.precision, self.model.device)

    def predict(self, image: torch.Tensor, pixel_size_mm: Sequence[float] | None = None) -> torch.Tensor:
        """One decoded (C, H, W) image, on any device -> the output (C_out, H, W) in data units, on
        the image's device; with ``pixel_size_mm`` (row, col), resampled to the model's pixel size
        and back as files are."""
        decoded = Decoded(Path("<tensor>"), image, {"spacing": tuple(pixel_size_mm)} if pixel_size_mm else {})
        return next(iter(self.stream([decoded])))[1].to(image.device)

    def stream(self, images: Iterable[Decoded]) -> Iterator[tuple[Decoded, torch.Tensor]]:
        """``(decoded, output)`` for each image, in order; images are decoded lazily by the
        caller's iterable, and tiles of consecutive images share batches."""
        pending: list[tuple[_Job, Box, torch.Tensor]] = []
        for decoded in images:
            image, convert, original = self._prepared(decoded)
            job = _Job(decoded, self.plan(image.shape[-2], image.shape[-1]), original)
            if convert is None:  # already the network input
                whole = image
            else:  # per-pixel conversions run per tile (the memory of a tile, not of the image)
                whole = None if self.model.task.pixelwise_io else convert(image)
            for box in job.plan.boxes():
                tile = convert(job.plan.crop(image, box)) if whole is None else job.plan.crop(whole, box)
                if pending and (len(pending) == self.options.batch_size or pending[0][2].shape != tile.shape):
                    yield from self._run(pending)
                    pending = []
                pending.append((job, box, tile))
            del image, whole
        yield from self._run(pending)

    def _prepared(self, decoded: Decoded):
        """``(image, convert, original size)`` of a decoded input: ``convert`` maps (crops of)
        ``image`` to the network input, or is None when ``image`` already is the network input
        (a made input); ``original`` is the size to resample the output back to, when the image
        was resampled to the model's pixel size."""
        task = self.model.task
        if self.maker is not None:  # a clean image: the model's input made from it, as eval makes it
            refuse_nonfinite(decoded.path, [decoded.image])
            x = self.maker.network_input(decoded.image, decoded.meta.get("spacing"), self.seen, str(decoded.path))
            self.seen += 1
            size = self.trained_size(decoded, x[0])
            if size is None:
                return x, None, None
            self.resampled.append((decoded.path, tuple(x.shape[-2:]), size))
            return resample(x, size), None, tuple(x.shape[-2:])
        image = self.checked_image(decoded)
        self.seen += 1
        size = self.trained_size(decoded, image)
        if size is None:
            return image, task.input_from_image, None
        original = tuple(image.shape[-2:])
        self.resampled.append((decoded.path, original, size))  # another pixel size than the model's: resampled
        data = resample(task.to_data_units(image.unsqueeze(0), "input"), size)[0]  # in data units
        return data, lambda part: task.encode_input(part.unsqueeze(0)), original

    @torch.no_grad()
    def _run(self, pending: list[tuple[_Job, Box, torch.Tensor]]) -> list[tuple[Decoded, torch.Tensor]]:
        """Run a batch of tiles; returns ``(decoded, output)`` of the images it completed."""
        if not pending:
            return []
        device = self.model.device
        tiles = [tile for _, _, tile in pending]
        x = (tiles[0] if len(tiles) == 1 else torch.cat(tiles)).to(device)
        with self.autocast():
            y = forward_any_size(self.model.generator, x, one_at_a_time=self.options.train_mode)
        out = self.model.task.decode_output(x, y.float())
        finished = []
        for i, (job, box, _) in enumerate(pending):
            if job.blender is None:
                job.blender = Blender(job.plan, out.shape[1])
            job.blender.add(box, out[i])
            if job.blender.done:
                image = job.blender.image
                if job.original is not None:  # back to the input's own grid
                    image = resample(image.unsqueeze(0), job.original)[0]
                finished.append((job.decoded, self.model.task.finalize_output(image)))
        return finished


@dataclass
class _Job:
    """An image being predicted: its tiles' outputs gather in ``blender``."""

    decoded: Decoded
    plan: TilePlan
    original: tuple[int, int] | None = None  # the input's size when it was resampled
    blender: Blender | None = None
