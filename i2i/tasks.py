"""The task preset base class.

A task is what a recipe's ``[task]`` names: it converts values between files, data units
and the network range, makes ``(input, target)`` pairs, presents images and adds its own
metrics: the four interfaces of :mod:`i2i.taskspec`, implemented here with the defaults of
plain paired translation in [-1, 1]. The engine calls, per batch and on the training
device (see :mod:`i2i.data.pipeline`)::

    batch = geometry(batch)                       # the same crop/flip for every image key (raw values)
    batch[k] = task.to_data_units(batch[k], k)    # uint8/16-bit/float -> data units
    x, y = task.make_pair(batch, train)           # e.g. build the input from the target
    x = task.augment_input(x, ops)                # training only, when allows_photometric

and, in the generator step, weighs reconstruction losses by ``task.pixel_weights(x)``.
Prediction runs ``task.encode_input(task.to_data_units(file, "input"))`` -> the generator ->
``task.decode_output`` -> ``task.finalize_output``. Tasks that draw random numbers to make
pairs draw them through :class:`i2i.data.pair_random.PairRandom`
(``PairRandom.for_batch(batch, train)``): the global stream in training, a generator per
image (seeded by the run seed and the image's index) at evaluation time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import torch

from i2i.errors import UsageError
from i2i.messages import warn
from i2i.metrics import Metric, ScoredImages

#: The sample keys holding images.
IMAGE_ROLES = ("input", "target")


def to_unit_range(image: torch.Tensor) -> torch.Tensor:
    """Decoded image -> float in [0, 1]: uint8 / 255, uint16 (stored as int32 or uint16) / 65535,
    floats unchanged."""
    if image.dtype == torch.uint8:
        return image.float() / 255.0
    if image.dtype in (torch.uint16, torch.int32):
        return image.float() / 65535.0
    return image.float()


class Task:
    """Base class of task presets. Subclasses set ``recipe_defaults`` and override what they
    need; every attribute the engine reads is declared here (see :mod:`i2i.taskspec`)."""

    #: Recipe tables layered under the user's recipe (e.g. the default generator and losses).
    recipe_defaults: ClassVar[dict[str, Any]] = {}
    #: Whether ``[[augment.photometric]]`` may change the input (not for tasks whose input
    #: values carry meaning the target depends on).
    allows_photometric: ClassVar[bool] = True
    #: Deprecated (use :meth:`task_metrics`): names of the metrics a legacy :meth:`metrics` returns.
    extra_metrics: tuple[str, ...] = ()
    #: The span of the data units the generic metrics use as data range (1 for images in [0, 1]).
    data_range: float = 1.0
    #: What inputs and outputs are in files: ``image`` (8/16-bit or float images, [0, 1] in data
    #: units; outputs are written at the input's bit depth) or ``hu`` (float Hounsfield units).
    input_units: str = "image"
    output_units: str = "image"
    #: Whether ``encode_input`` / ``decode_output`` are per-pixel maps (tiling allowed).
    pixelwise_io: bool = True
    #: Whether :meth:`make_input` gives a sample the same input every time (no random draw, e.g.
    #: a sparse-view FBP at a fixed view count): the data path then computes it once per sample
    #: and passes it back as the batch's ``input`` (:mod:`i2i.data.input_cache`).
    deterministic_input: bool = False
    #: Whether the input is defined relative to each image's own size (a sparse-view FBP at a
    #: fraction of full angular sampling: the streaks scale with the pixel grid), so the model
    #: applies to images of any pixel size as they are: ``eval`` and ``predict`` then do not
    #: resample them to the pixel sizes it was trained at (:attr:`LoadedModel.pixel_range` is
    #: ``None``).
    size_relative_input: bool = False

    def __init__(self, in_channels: int = 3, out_channels: int = 3):
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channel counts must be >= 1, got in {in_channels}, out {out_channels}")
        self.in_channels = in_channels
        self.out_channels = out_channels

    @property
    def fp32_output(self) -> bool:
        """Whether the generator's output layer runs in float32 under bf16/fp16 autocast: yes
        for outputs in physical units (``output_units`` other than ``image``, e.g. HU, where
        bf16's 8-bit mantissa is a step of 1-16 HU), no for images."""
        return self.output_units != "image"

    # -- values: files <-> data units <-> network range -----------------------------------------

    def to_data_units(self, image: torch.Tensor, role: str) -> torch.Tensor:
        """Decoded tensors -> floats in [0, 1] (see :func:`to_unit_range`)."""
        return to_unit_range(image)

    def encode_input(self, data: torch.Tensor) -> torch.Tensor:
        """[0, 1] images -> [-1, 1]; a channel mismatch fails naming both counts."""
        if data.shape[1] != self.in_channels:
            raise UsageError(f"the model takes {self.in_channels}-channel input, the image has {data.shape[1]} "
                             "channel(s); convert it (e.g. to grayscale or RGB) first")
        return data * 2.0 - 1.0

    def encode_target(self, data: torch.Tensor) -> torch.Tensor:
        """[0, 1] images -> [-1, 1]."""
        return data * 2.0 - 1.0

    def decode_input(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> [0, 1]."""
        return ((x.float() + 1.0) / 2.0).clamp(0, 1)

    def decode_output(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> [0, 1]; writers quantise it to the bit depth of the file they write."""
        return ((y.float() + 1.0) / 2.0).clamp(0, 1)

    def finalize_output(self, image: torch.Tensor) -> torch.Tensor:
        """Identity: nothing depends on the position in the whole image."""
        return image

    def input_from_image(self, image: torch.Tensor) -> torch.Tensor:
        """A decoded file (C, H, W) -> the network input (1, in_channels, H, W)."""
        return self.encode_input(self.to_data_units(image.unsqueeze(0), "input"))

    # -- pairs ----------------------------------------------------------------------------------

    def expected_channels(self) -> dict[str, int]:
        """Channels each decoded sample key must have; files that differ are reported (or
        skipped with ``data.on_error = "skip"``)."""
        return {"input": self.in_channels, "target": self.out_channels}

    def make_pair(self, batch: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's ``(input, target)`` from paired samples in data units."""
        x, y = batch["input"], batch["target"]
        self.check_channels(x, self.in_channels, "input", "task.in_channels", batch)
        self.check_channels(y, self.out_channels, "target", "task.out_channels", batch)
        return self.encode_input(x), self.encode_target(y)

    def make_input(self, batch: Mapping[str, Any], train: bool) -> torch.Tensor:
        """The input in data units of a batch of raw samples (before ``make_pair``): the
        sample's own ``input`` here; tasks that make inputs from targets override it."""
        return batch["input"]

    def augment_input(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        """Kornia intensity augmentations of a [-1, 1] input, applied in [0, 1]."""
        return ops(((x + 1.0) / 2.0).clamp(0, 1)) * 2.0 - 1.0

    def pixel_weights(self, x: torch.Tensor) -> torch.Tensor | None:
        """``None``: every pixel weighs alike (inpainting weighs the hole)."""
        return None

    # -- presentation ------------------------------------------------------------------------------

    def preview(self, image: torch.Tensor) -> torch.Tensor:
        """Identity: data units already are [0, 1]."""
        return image

    def display(self, x: torch.Tensor, output: torch.Tensor,
                target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Previews of the decoded input, output and target, 1 or 3 channels."""
        shown = (self.decode_input(x), self.decode_output(x, output), self.decode_output(x, target))
        return tuple(_displayable(self.preview(image)) for image in shown)

    def regions(self, images: ScoredImages) -> list[str] | None:
        """The kind of each image of a scored batch where the task knows one (CT: the body
        region, ``head`` or ``trunk``, from ``images.samples`` or the recipe), else ``None``:
        ``eval.csv``'s ``region`` column, the images a region's metrics apply to, and the
        held-out images the report shows per region."""
        return None

    def reading_views(self, region: str | None) -> tuple[tuple[str, Callable[[torch.Tensor], torch.Tensor]], ...]:
        """How a reader looks at a held-out image of ``region`` (see :meth:`regions`), for the
        report: ``(label, show)`` pairs, ``show`` mapping an image in data units to [0, 1] (CT:
        a head in the brain and the bone window, ``"brain window (W 80 / L 40)"``). Empty (the
        default): the final evaluation writes no held-out images."""
        return ()

    def acquisition(self, sizes: Sequence[int] = ()) -> dict[str, Any] | None:
        """What the model takes its input to be, for ``eval.json`` and ``i2i predict``: a dict with
        at least ``description`` (one line), given for slices of ``sizes`` pixels where it
        depends on the size (CT: views at 1/8 sampling); ``None`` when the input is simply what
        the files hold."""
        return None

    # -- measuring -------------------------------------------------------------------------------

    @property
    def has_baseline(self) -> bool:
        """Input and target share a space when their channel counts agree."""
        return self.in_channels == self.out_channels

    def baseline_output(self, x: torch.Tensor) -> torch.Tensor:
        """The input itself."""
        return x

    def task_metrics(self) -> tuple[Metric, ...]:
        """The task's own metrics (:class:`i2i.metrics.Metric` records: name, ``compute(images)``,
        ``higher_is_better``), scored beside the generic ones (``mae``, ``psnr``, ``ssim``,
        ``ms_ssim``) and winning for the names they share. None by default; a task written for
        the older API (``extra_metrics`` names and a ``metrics(x, output, target)`` method) gets
        records from them, their direction guessed from the name, with one warning."""
        if not self.extra_metrics or type(self).metrics is Task.metrics:
            return ()
        warn(f"task {type(self).__name__} declares its metrics by name (extra_metrics); declare them as records "
             "with task_metrics() so their direction is known (guessed here: psnr/ssim-like names improve upwards, "
             "others downwards)")
        return tuple(Metric(name, _legacy_higher_is_better(name), self._legacy_compute(name))
                     for name in self.extra_metrics)

    def metrics(self, x: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Deprecated: the older API's per-image task metrics by name (see :meth:`task_metrics`)."""
        return {}

    def _legacy_compute(self, name: str):
        def compute(images: ScoredImages) -> torch.Tensor:
            key = (id(self), "legacy_metrics")
            if key not in images.cache:
                images.cache[key] = self.metrics(images.x, images.output, images.target)
            return images.cache[key][name]

        return compute

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def check_channels(t: torch.Tensor, expected: int, what: str, key: str, batch: Mapping[str, Any]) -> None:
        """Fail with the file name when a batch has the wrong number of channels."""
        if t.shape[1] != expected:
            paths = batch.get("path") or ["?"]
            raise UsageError(f"{paths[0]}: {what} has {t.shape[1]} channel(s) but {key} = {expected}; "
                             f"set {key} = {t.shape[1]} or convert the images")


def _legacy_higher_is_better(name: str) -> bool:
    return any(name == h or name.endswith(f"_{h}") for h in ("psnr", "ssim", "ms_ssim"))


def _displayable(image: torch.Tensor) -> torch.Tensor:
    """1 or 3 channels in [0, 1]."""
    image = image.float().clamp(0, 1)
    return image[:, :3] if image.shape[1] >= 3 else image[:, :1]
