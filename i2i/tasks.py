"""The task preset base class.

A task knows its channels and value range, turns decoded samples into normalised
``(input, target)`` batches on the training device, and brings recipe defaults.
The engine calls, per batch and on the training device (see :mod:`i2i.data.pipeline`)::

    batch = geometry(batch)             # the same random crop/flip for every image key (raw values)
    batch = task.to_network(batch)      # uint8/uint16/float -> float network range
    x, y = task.make_pair(batch, train) # e.g. build the input from the target
    x = task.apply_photometric(x, ops)  # training only, when allows_photometric

and, in the generator step, weighs reconstruction losses by ``task.pixel_weights(x)``.
Tasks that draw random numbers to make pairs draw them through
:class:`i2i.data.pair_random.PairRandom` (``PairRandom.for_batch(batch, train)``): the
global stream in training, a generator per image (seeded by the run seed and the image's
index) at evaluation time, so evaluation pairs never depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch

from i2i.errors import UsageError

Role = Literal["input", "output", "target"]


def to_unit_range(image: torch.Tensor) -> torch.Tensor:
    """Decoded image -> float in [0, 1]: uint8 / 255, uint16 (stored as int32 or uint16) / 65535,
    floats unchanged."""
    if image.dtype == torch.uint8:
        return image.float() / 255.0
    if image.dtype in (torch.uint16, torch.int32):
        return image.float() / 65535.0
    return image.float()


class Task:
    """Base class of task presets. Subclasses set ``recipe_defaults`` and override the hooks
    they need; the defaults implement plain paired translation in [-1, 1]."""

    #: Recipe tables layered under the user's recipe (e.g. the default generator and losses).
    recipe_defaults: ClassVar[dict[str, Any]] = {}
    #: Whether ``[[augment.photometric]]`` may change the input (not for tasks whose input
    #: values carry meaning the target depends on).
    allows_photometric: ClassVar[bool] = True
    #: Metrics the task adds to the generic suite (``mae``, ``psnr``, ``ssim``, ``ms_ssim`` of
    #: :mod:`i2i.evaluation.metrics`); the names :meth:`metrics` returns.
    extra_metrics: ClassVar[tuple[str, ...]] = ()
    #: The span of the data units the generic metrics use as data range (1 for images in [0, 1]).
    data_range: float = 1.0
    #: What inputs and outputs are in files: ``image`` (8/16-bit or float images, [0, 1] in data
    #: units; outputs are written at the input's bit depth) or ``hu`` (float Hounsfield units).
    input_units: str = "image"
    output_units: str = "image"

    def __init__(self, in_channels: int = 3, out_channels: int = 3):
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channel counts must be >= 1, got in {in_channels}, out {out_channels}")
        self.in_channels = in_channels
        self.out_channels = out_channels

    def expected_channels(self) -> dict[str, int]:
        """Channels each decoded sample key must have; files that differ are reported (or
        skipped with ``data.on_error = "skip"``)."""
        return {"input": self.in_channels, "target": self.out_channels}

    def to_network(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """Decoded image tensors -> float tensors in [-1, 1]; other entries are kept."""
        out = dict(batch)
        for key in ("input", "target"):
            if key in out:
                out[key] = to_unit_range(out[key]) * 2.0 - 1.0
        return out

    def make_pair(self, batch: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's ``(input, target)``; checks the channel counts against the task's."""
        x, y = batch["input"], batch["target"]
        self.check_channels(x, self.in_channels, "input", "task.in_channels", batch)
        self.check_channels(y, self.out_channels, "target", "task.out_channels", batch)
        return x, y

    def apply_photometric(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        """Apply kornia intensity augmentations to a network-range input (in [0, 1] space)."""
        return ops(((x + 1.0) / 2.0).clamp(0, 1)) * 2.0 - 1.0

    def pixel_weights(self, x: torch.Tensor) -> torch.Tensor | None:
        """Per-pixel weights (N, 1, H, W) for reconstruction losses, from the network input;
        ``None`` weighs every pixel alike (inpainting weighs the hole)."""
        return None

    def from_network(self, y: torch.Tensor) -> torch.Tensor:
        """A network-range tensor -> data units: floats in [0, 1] for images (HU for CT tasks).
        Writers quantise [0, 1] to the bit depth of the file they write."""
        return ((y.float() + 1.0) / 2.0).clamp(0, 1)

    def input_from_image(self, image: torch.Tensor) -> torch.Tensor:
        """A decoded file (C, H, W; uint8, 16-bit as int32, or float) -> the network input
        (1, in_channels, H, W) for ``i2i predict``: :meth:`inputs_from_images` of one image."""
        return self.inputs_from_images(image.unsqueeze(0))

    def inputs_from_images(self, images: torch.Tensor) -> torch.Tensor:
        """Decoded files (N, C, H, W) -> the network inputs (N, in_channels, H, W), per pixel
        and traceable (exported graphs run it). Channel mismatches fail naming both counts."""
        x = self.to_network({"input": images})["input"]
        if x.shape[1] != self.in_channels:
            raise UsageError(f"the model takes {self.in_channels}-channel input, the image has {x.shape[1]} "
                             "channel(s); convert it (e.g. to grayscale or RGB) first")
        return x

    def output_image(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The model's input and output (network range) -> the output image in data units
        (colorization, say, recombines the input's L with the predicted ab into RGB)."""
        return self.from_network(y)

    def finalize_output(self, image: torch.Tensor) -> torch.Tensor:
        """A whole output image in data units ((C, H, W) or (N, C, H, W), after tiles are
        blended) -> the image written and scored; what depends on the position in the whole
        image goes here (CT: air outside the field of view). Identity by default."""
        return image

    def preview(self, image: torch.Tensor) -> torch.Tensor:
        """An output image in data units -> [0, 1], for 8/16-bit image files (PNG, JPEG, TIFF,
        BMP, WebP) written by ``i2i predict``. Identity where data units already are [0, 1];
        tasks in physical units map them for viewing (CT: the display window)."""
        return image

    def input_comparable(self) -> bool:
        """Whether input and target share a space, so the input itself is a baseline
        (the identity model) for every metric."""
        return self.in_channels == self.out_channels

    def baseline(self, x: torch.Tensor) -> torch.Tensor:
        """The network input as an output (network range), for the identity baseline
        (inpainting drops its mask channel)."""
        return x

    def display_images(self, x: torch.Tensor, output: torch.Tensor,
                       target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Input, output and target (network range) as [0, 1] images with 1 or 3 channels,
        for sample grids and reports."""
        return self.to_display(x, "input"), self.to_display(output, "output"), self.to_display(target, "target")

    def metrics(self, output: torch.Tensor, target: torch.Tensor,
                x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The task's own per-image metrics ((N,) tensors, named in :attr:`extra_metrics`) of a
        network-range output against its target, for network input ``x``; they are added to
        (and, for shared names, replace) the generic suite of :mod:`i2i.evaluation.metrics`.
        None by default."""
        return {}

    def to_display(self, x: torch.Tensor, role: Role) -> torch.Tensor:
        """A network-range tensor (N, C, H, W) -> [0, 1] with 1 or 3 channels for sample grids."""
        x = ((x.float() + 1.0) / 2.0).clamp(0, 1)
        return x[:, :3] if x.shape[1] >= 3 else x[:, :1]

    @staticmethod
    def check_channels(t: torch.Tensor, expected: int, what: str, key: str, batch: Mapping[str, Any]) -> None:
        """Fail with the file name when a batch has the wrong number of channels."""
        if t.shape[1] != expected:
            paths = batch.get("path") or ["?"]
            raise UsageError(f"{paths[0]}: {what} has {t.shape[1]} channel(s) but {key} = {expected}; "
                             f"set {key} = {t.shape[1]} or convert the images")
