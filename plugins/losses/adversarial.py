"""Adversarial losses of the pix2pix family. Each term is computed per discriminator
scale on its logits and summed over scales (pix2pixHD)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from i2i.losses import AdversarialLoss, as_scales, input_gradients, logits


class VanillaGAN(AdversarialLoss):
    """The original GAN loss: binary cross-entropy on logits (pix2pix's ``vanilla``).
    D's loss is halved, as in the reference, to slow D relative to G."""

    def __init__(self, real_label: float = 1.0, fake_label: float = 0.0):
        self.real_label = real_label
        self.fake_label = fake_label
        self.decision_threshold = (real_label + fake_label) / 2

    def realness(self, logits: torch.Tensor) -> torch.Tensor:
        """The probability D gives a pair of being real."""
        return torch.sigmoid(logits)

    def _bce(self, logits: torch.Tensor, label: float) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))

    def d_term(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self._bce(real, self.real_label) + self._bce(fake, self.fake_label))

    def g_term(self, fake: torch.Tensor) -> torch.Tensor:
        return self._bce(fake, self.real_label)


class LSGAN(AdversarialLoss):
    """Least-squares GAN (Mao et al. 2017): mean squared error to the labels; D's loss halved."""

    def __init__(self, real_label: float = 1.0, fake_label: float = 0.0):
        self.real_label = real_label
        self.fake_label = fake_label
        self.decision_threshold = (real_label + fake_label) / 2

    def d_term(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * (F.mse_loss(real, torch.full_like(real, self.real_label))
                      + F.mse_loss(fake, torch.full_like(fake, self.fake_label)))

    def g_term(self, fake: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(fake, torch.full_like(fake, self.real_label))


class Hinge(AdversarialLoss):
    """Hinge loss (Lim & Ye 2017; SAGAN, SPADE): D: mean(relu(1 - real)) + mean(relu(1 + fake));
    G: -mean(fake)."""

    decision_threshold = 0.0

    def d_term(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()

    def g_term(self, fake: torch.Tensor) -> torch.Tensor:
        return -fake.mean()


class WGANGP(AdversarialLoss):
    """Wasserstein loss with gradient penalty (Gulrajani et al. 2017), as the reference's
    ``cal_gradient_penalty(type="mixed")``: D: mean(fake) - mean(real) +
    gp_weight * mean((||grad D(interp)||_2 - gp_constant)^2) over random mixes of real and
    generated (input, output) pairs; G: -mean(fake)."""

    decision_threshold = 0.0

    def __init__(self, gp_weight: float = 10.0, gp_constant: float = 1.0):
        self.gp_weight = gp_weight
        self.gp_constant = gp_constant

    def d_term(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return fake.mean() - real.mean()

    def g_term(self, fake: torch.Tensor) -> torch.Tensor:
        return -fake.mean()

    def penalty(self, discriminator: torch.nn.Module, real_pair: torch.Tensor,
                fake_pair: torch.Tensor) -> torch.Tensor:
        shape = (real_pair.shape[0],) + (1,) * (real_pair.ndim - 1)
        alpha = torch.rand(shape, device=real_pair.device, dtype=real_pair.dtype)
        mixed = (alpha * real_pair.detach() + (1 - alpha) * fake_pair.detach()).requires_grad_(True)
        outputs = logits(as_scales(discriminator(mixed)))
        grads = input_gradients(outputs, mixed)
        norms = grads.flatten(1).norm(2, dim=1)
        return self.gp_weight * ((norms - self.gp_constant) ** 2).mean()
