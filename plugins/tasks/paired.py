"""``paired``: generic paired translation (facades, maps, cityscapes, edges->photo)."""

from __future__ import annotations

from i2i.tasks import Task


class PairedTask(Task):
    """Paired image-to-image translation with the pix2pix defaults: U-Net 256, 70x70 PatchGAN,
    vanilla GAN + 100 x L1, images scaled to [-1, 1]. ``identity_baseline``: whether the input
    itself is a meaningful baseline output (true where input and target show the same kind
    of image; false for, say, aerial photo -> map, where nothing is learnt by comparing them)."""

    recipe_defaults = {
        "source": {"name": "aligned"},
        "generator": {"name": "unet_256"},
        "discriminator": {"name": "patchgan"},
        "losses": {"gan": {"name": "vanilla", "weight": 1.0}, "l1": {"name": "l1", "weight": 100.0}},
    }

    def __init__(self, in_channels: int = 3, out_channels: int = 3, identity_baseline: bool = True):
        super().__init__(in_channels, out_channels)
        self.identity_baseline = identity_baseline

    @property
    def has_baseline(self) -> bool:
        return self.identity_baseline and super().has_baseline
