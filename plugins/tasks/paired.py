"""``paired``: generic paired translation (facades, maps, cityscapes, edges->photo)."""

from __future__ import annotations

from i2i.tasks import Task


class PairedTask(Task):
    """Paired image-to-image translation with the pix2pix defaults: U-Net 256, 70x70 PatchGAN,
    vanilla GAN + 100 x L1, images scaled to [-1, 1]."""

    recipe_defaults = {
        "data": {"source": "aligned"},
        "generator": {"name": "unet_256"},
        "discriminator": {"name": "patchgan"},
        "losses": {"gan": {"name": "vanilla", "weight": 1.0}, "l1": {"name": "l1", "weight": 100.0}},
    }

    def __init__(self, in_channels: int = 3, out_channels: int = 3):
        super().__init__(in_channels, out_channels)
