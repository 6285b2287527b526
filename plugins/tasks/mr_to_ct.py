"""``mr_to_ct``: synthetic CT from MR slices (paired, registered slices)."""

from __future__ import annotations

from typing import Literal

import torch

from i2i.medical.metrics import ct_metric_records
from i2i.metrics import Metric, ScoredImages
from i2i.tasks import Task, to_unit_range


class MRToCTTask(Task):
    """MR (1 channel) -> CT (1 channel) on paired slices, split by patient.

    MR intensities have no absolute scale: ``mr_normalization = "scale"`` maps 8/16-bit files by
    their bit depth, ``"percentile"`` maps each slice's 1st..99th percentile to [-1, 1]
    (for float MR). ``ct_units = "hu"``: CT targets in HU (float files: NIfTI, NPY, DICOM) are
    mapped from ``ct_hu_range``, evaluated in HU (PSNR/SSIM inside ``metric_window``, MAE/RMSE
    in HU) and predicted in HU; ``"image"`` (default): CT already windowed to 8/16 bits (as in
    the shared brain set) is used as an image in [0, 1]. There is no identity baseline: MR and CT intensities are not comparable.
    """

    recipe_defaults = {
        "source": {"name": "paired_folders", "input_dir": "t1", "target_dir": "ct"},
        "data": {"group_pattern": "^([^/]+)/", "val_fraction": 0.17, "test_fraction": 0.17},
        "generator": {"name": "unet_256"},
        "discriminator": {"name": "patchgan"},
        "losses": {"gan": {"name": "vanilla", "weight": 1.0}, "l1": {"name": "l1", "weight": 100.0}},
    }
    allows_photometric = True  # MR intensity jitter is a sensible augmentation

    def __init__(self, mr_normalization: Literal["scale", "percentile"] = "scale", ct_units: Literal["image", "hu"] = "image",
                 ct_hu_range: tuple[float, float] = (-1024.0, 3071.0), metric_window: str | list[float] = "full"):
        from i2i.medical.hu import get_window

        super().__init__(1, 1)
        self.mr_normalization = mr_normalization
        self.ct_hu_range = (float(ct_hu_range[0]), float(ct_hu_range[1]))
        self.metric_window = get_window(tuple(metric_window) if isinstance(metric_window, list) else metric_window)
        #: Stated in the recipe, not guessed from the data, so a model loaded for ``i2i predict``
        #: (which sees no CT) writes the same units it was trained on.
        self.target_in_hu = ct_units == "hu"
        if self.target_in_hu:
            self.output_units = "hu"

    @property
    def data_range(self) -> float:
        """HU-trained models: the metric window's width; windowed CT images: 1."""
        return float(self.metric_window.width) if self.target_in_hu else 1.0

    has_baseline = False  # MR and CT intensities are not comparable

    @property
    def pixelwise_io(self) -> bool:
        """Percentile normalisation depends on the whole image: no tiling then."""
        return self.mr_normalization == "scale"

    def to_data_units(self, image: torch.Tensor, role: str) -> torch.Tensor:
        """MR: the file's scale ([0, 1] for 8/16-bit files, floats as they are); CT: HU (float
        files) with ``ct_units = "hu"``, else [0, 1] windowed images."""
        if role == "target" and self.target_in_hu:
            if not image.dtype.is_floating_point:
                raise ValueError("task.ct_units = \"hu\" needs CT in HU (float NIfTI/NPY/DICOM); got integer "
                                 "images: set task.ct_units = \"image\" for CT already windowed to 8/16 bits")
            return image.float()
        return to_unit_range(image)

    def encode_input(self, data: torch.Tensor) -> torch.Tensor:
        """MR -> [-1, 1]: by the file's scale, or each slice's 1st..99th percentile."""
        if self.mr_normalization == "scale":
            return data[:, :1] * 2 - 1
        flat = data[:, :1].float().flatten(1)
        lo, hi = torch.quantile(flat, 0.01, dim=1), torch.quantile(flat, 0.99, dim=1)
        unit = (data[:, :1].float() - lo.view(-1, 1, 1, 1)) / (hi - lo).clamp_min(1e-6).view(-1, 1, 1, 1)
        return unit.clamp(0, 1) * 2 - 1

    def encode_target(self, data: torch.Tensor) -> torch.Tensor:
        from i2i.medical.hu import hu_to_network

        return hu_to_network(data, *self.ct_hu_range) if self.target_in_hu else data * 2 - 1

    def decode_output(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """HU for HU-trained models, [0, 1] for models trained on 8-bit windowed CT."""
        from i2i.medical.hu import network_to_hu

        if self.target_in_hu:
            return network_to_hu(y.float(), *self.ct_hu_range)
        return super().decode_output(x, y)

    def preview(self, image: torch.Tensor) -> torch.Tensor:
        """CT in HU -> [0, 1] through ``metric_window``; windowed CT images are already [0, 1]."""
        from i2i.medical.hu import apply_window

        return apply_window(image, self.metric_window) if self.target_in_hu else image

    def display(self, x, output, target):
        """MR input as a grey image; outputs and targets through :meth:`preview`."""
        shown = (self.decode_input(x), self.preview(self.decode_output(x, output)),
                 self.preview(self.decode_output(x, target)))
        return tuple(image.float().clamp(0, 1) for image in shown)

    def task_metrics(self) -> tuple[Metric, ...]:
        """HU-trained models: the CT metrics in HU inside ``metric_window``; windowed CT images: none."""
        return ct_metric_records(self.metric_window, self._slices_in_hu) if self.target_in_hu else ()

    def _slices_in_hu(self, images: ScoredImages) -> tuple[torch.Tensor, torch.Tensor, None]:
        return (self.decode_output(images.x, images.output), self.decode_output(images.x, images.target), None)
