"""The interfaces of a task, by concern, as the engine reads them (the way ``hookspecs``
declares the hooks). :class:`i2i.tasks.Task` implements all four with the defaults of plain
paired translation; a task need not subclass it: :func:`i2i.assembly.components.build_task`
checks the object a task factory returns against :class:`TaskSpec`, and the engine, the data
path, evaluation and inference are typed with it. By concern:

- :class:`Values`: data units <-> network range (the batch pipeline, predict, export);
- :class:`PairMaking`: ``(input, target)`` pairs from decoded samples, augmentation and
  loss weights (the batch pipeline, the GAN step);
- :class:`Presentation`: data units -> images for files, sample grids and reports;
- :class:`Measuring`: the task's own metrics and identity baseline (the metric table of
  :mod:`i2i.metrics`, shared by validation and ``i2i eval``).

*Data units* are what files hold once decoded: floats in [0, 1] for images (8-bit / 255,
16-bit / 65535, float images as they are), Hounsfield units for CT. *Network range* is what
the generator sees and returns (usually [-1, 1]).

Type imports live under ``TYPE_CHECKING``, so this module imports nothing at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import torch


@runtime_checkable
class Values(Protocol):
    """Converting values between files, data units and the network range."""

    #: Channels of the network's input and output.
    in_channels: int
    out_channels: int
    #: ``image`` ([0, 1] data units, written at the input file's bit depth) or ``hu`` (float HU).
    input_units: str
    output_units: str
    #: The span of the data units, the data range of the generic metrics (1 for images).
    data_range: float
    #: Whether :meth:`encode_input` and :meth:`decode_output` work pixel by pixel, so large
    #: images may be predicted in tiles (false for per-image normalisations).
    pixelwise_io: bool
    #: Whether the generator's output layer runs in float32 under autocast (outputs in
    #: physical units, e.g. HU; see :class:`i2i.nn.protocols.GeneratorSpec`).
    fp32_output: bool

    def to_data_units(self, image: torch.Tensor, role: str) -> torch.Tensor:
        """A decoded file's tensor (uint8, 16-bit values as int32, float) -> float data units;
        ``role`` is ``input`` or ``target``. Raises ``ValueError`` for values the task cannot take."""

    def encode_input(self, data: torch.Tensor) -> torch.Tensor:
        """Input images in data units (N, C, H, W) -> the network input (N, in_channels, H, W):
        what ``i2i predict`` feeds the generator for an input file. Traceable (exports run it)."""

    def encode_target(self, data: torch.Tensor) -> torch.Tensor:
        """Target images in data units -> the network range the generator learns to output."""

    def decode_input(self, x: torch.Tensor) -> torch.Tensor:
        """A network input -> the input image in data units (for display)."""

    def decode_output(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The network input and an output (or target) -> the output image in data units
        (colorization recombines the input's L with the predicted ab)."""

    def finalize_output(self, image: torch.Tensor) -> torch.Tensor:
        """A whole output image in data units (after tiles are blended) -> the image written
        and scored (CT: air outside the field of view)."""


@runtime_checkable
class PairMaking(Protocol):
    """Making training and evaluation pairs from decoded samples, on the device."""

    #: Whether ``[[augment.photometric]]`` may change the input.
    allows_photometric: bool

    def expected_channels(self) -> Mapping[str, int]:
        """Channels each decoded sample key must have (files that differ are reported)."""

    def make_pair(self, batch: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of samples in data units -> the network's ``(input, target)``. Random choices
        come from :class:`i2i.data.pair_random.PairRandom` (per image when evaluating)."""

    #: Whether :meth:`make_input` is a pure function of the sample (the data path may cache it).
    deterministic_input: bool

    #: Whether the input is defined relative to each image's own size (a fraction of full
    #: sampling), so ``eval`` and ``predict`` apply the model at any pixel size without resampling.
    size_relative_input: bool

    def make_input(self, batch: Mapping[str, Any], train: bool) -> torch.Tensor:
        """The input (data units) of raw samples: the sample's own, or made from the target."""

    def augment_input(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        """Photometric augmentation (kornia ops on [0, 1] images) of a network input."""

    def pixel_weights(self, x: torch.Tensor) -> torch.Tensor | None:
        """Per-pixel weights (N, 1, H, W) of the reconstruction losses, or ``None``."""


@runtime_checkable
class Presentation(Protocol):
    """Showing data units as images."""

    def preview(self, image: torch.Tensor) -> torch.Tensor:
        """An output in data units -> [0, 1] for 8/16-bit image files (CT: a display window)."""

    def acquisition(self, sizes: Sequence[int] = ()) -> dict[str, Any] | None:
        """What the model takes its input to be (``description``: one line), or ``None``."""

    def reading_views(self, region: str | None) -> tuple[tuple[str, Any], ...]:
        """How a reader looks at a held-out image of ``region``: ``(label, show)`` pairs, ``show``
        mapping data units to [0, 1]; empty: the report shows no held-out images."""

    def display(self, x: torch.Tensor, output: torch.Tensor,
                target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Network input, output and target -> three [0, 1] images of 1 or 3 channels for
        sample grids and reports."""


@runtime_checkable
class Measuring(Protocol):
    """What the shared metric table asks of a task beyond :class:`Values`."""

    #: Whether the input itself is a meaningful output to compare with (the identity baseline).
    has_baseline: bool

    def task_metrics(self) -> tuple[Any, ...]:
        """The task's own metrics, as :class:`i2i.metrics.Metric` records (they win over generic
        metrics of the same name)."""

    def baseline_output(self, x: torch.Tensor) -> torch.Tensor:
        """The network input as an output (network range), for the identity baseline."""

    def regions(self, images: Any) -> list[str] | None:
        """The kind of each image of a scored batch (CT: ``head`` or ``trunk``), or ``None``."""


@runtime_checkable
class TaskSpec(Values, PairMaking, Presentation, Measuring, Protocol):
    """A whole task: what the engine, ``i2i eval``, ``i2i predict`` and exports read of the
    object a task factory returns (:class:`i2i.tasks.Task` implements it)."""


def missing_members(obj: Any, protocol: type) -> list[str]:
    """The attributes and methods of ``protocol`` (and its bases) that ``obj`` lacks."""
    names: set[str] = set()
    for base in protocol.__mro__:
        if base is object or base is Protocol or not getattr(base, "_is_protocol", False):
            continue
        names |= set(getattr(base, "__annotations__", {}))
        names |= {k for k, v in vars(base).items() if callable(v) and not k.startswith("_")}
    return sorted(name for name in names if not hasattr(obj, name))
