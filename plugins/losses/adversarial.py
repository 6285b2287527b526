"""Adversarial losses of the pix2pix family."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from i2i.losses import AdversarialLoss


class VanillaGAN(AdversarialLoss):
    """The original GAN loss: binary cross-entropy on logits (pix2pix's ``vanilla``).
    D's loss is halved, as in the reference, to slow D relative to G."""

    def __init__(self, real_label: float = 1.0, fake_label: float = 0.0):
        self.real_label = real_label
        self.fake_label = fake_label

    def _bce(self, logits: torch.Tensor, label: float) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))

    def d_term(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self._bce(real, self.real_label) + self._bce(fake, self.fake_label))

    def g_term(self, fake: torch.Tensor) -> torch.Tensor:
        return self._bce(fake, self.real_label)


class LSGAN(AdversarialLoss):
    """Least-squares GAN (Mao et al. 2017): mean squared error to the labels."""

    def __init__(self, real_label: float = 1.0, fake_label: float = 0.0):
        self.real_label = real_label
        self.fake_label = fake_label

    def d_term(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * (F.mse_loss(real, torch.full_like(real, self.real_label))
                      + F.mse_loss(fake, torch.full_like(fake, self.fake_label)))

    def g_term(self, fake: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(fake, torch.full_like(fake, self.real_label))
