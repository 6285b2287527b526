"""One conditional-GAN optimisation step: the discriminator first, then the generator."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from i2i.engine.build import LossTerm
from i2i.losses import as_scales


def set_requires_grad(net: nn.Module | None, flag: bool) -> None:
    if net is not None:
        for p in net.parameters():
            p.requires_grad_(flag)


class GANStep:
    """``step(x, y)`` updates D on (x, y) vs (x, G(x)), then G on the adversarial and
    reconstruction terms. Returns the detached loss values (no host synchronisation)."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module | None,
                 opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer | None, terms: Sequence[LossTerm]):
        self.generator = generator
        self.discriminator = discriminator
        self.opt_g = opt_g
        self.opt_d = opt_d
        self.adversarial = next((t for t in terms if t.role == "adversarial"), None)
        self.feature_terms = [t for t in terms if t.role == "feature_matching"]
        self.pixel_terms = [t for t in terms if t.role == "reconstruction"]
        if self.adversarial is not None and discriminator is None:
            raise ValueError("an adversarial loss needs a discriminator")

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        logs: dict[str, torch.Tensor] = {}
        fake = self.generator(x)
        D = self.discriminator if self.adversarial else None
        real_scales = None
        if D is not None:
            set_requires_grad(D, True)
            self.opt_d.zero_grad(set_to_none=True)
            fake_scales = as_scales(D(torch.cat([x, fake.detach()], 1)))
            real_scales = as_scales(D(torch.cat([x, y], 1)))
            loss_d = self.adversarial.loss.discriminator_loss(real_scales, fake_scales) * self.adversarial.weight
            loss_d.backward()
            self.opt_d.step()
            logs["loss_d"] = loss_d.detach()
            set_requires_grad(D, False)
        self.opt_g.zero_grad(set_to_none=True)
        total = fake.new_zeros(())
        if D is not None:
            fake_scales = as_scales(D(torch.cat([x, fake], 1)))
            term = self.adversarial.loss.generator_loss(fake_scales) * self.adversarial.weight
            logs[f"loss_g_{self.adversarial.label}"] = term.detach()
            total = total + term
            for t in self.feature_terms:
                real = [[f.detach() for f in scale] for scale in real_scales]
                term = t.loss(fake_scales, real) * t.weight
                logs[f"loss_g_{t.label}"] = term.detach()
                total = total + term
        for t in self.pixel_terms:
            term = t.loss(fake, y) * t.weight
            logs[f"loss_g_{t.label}"] = term.detach()
            total = total + term
        total.backward()
        self.opt_g.step()
        if D is not None:
            set_requires_grad(D, True)
        logs["loss_g"] = total.detach()
        return logs
