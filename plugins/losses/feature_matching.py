"""pix2pixHD's discriminator feature-matching loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from i2i.losses import FeatureMatchingLoss, Scales


class FeatureMatching(FeatureMatchingLoss):
    """L1 between D's intermediate features of generated and real pairs, as pix2pixHD:
    each scale weighs 1/num_scales and each of its k intermediate layers 4/k (pix2pixHD's
    4/(n_layers_D + 1)); the logits are not matched. Weight 10 in pix2pixHD."""

    def __call__(self, fake: Scales, real: Scales) -> torch.Tensor:
        if not fake or all(len(scale) < 2 for scale in fake):
            raise ValueError("feature_matching needs a discriminator that returns intermediate features "
                             "(patchgan or multiscale); this one returns only logits")
        total = fake[0][-1].new_zeros(())
        scale_weight = 1.0 / len(fake)
        for fake_scale, real_scale in zip(fake, real):
            layers = len(fake_scale) - 1
            for f, r in zip(fake_scale[:-1], real_scale[:-1]):
                total = total + scale_weight * (4.0 / layers) * F.l1_loss(f, r.detach())
        return total
