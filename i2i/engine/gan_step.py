"""One optimisation step: the discriminator first, then the generator (``train.mode =
"supervised"``: the generator alone, on its reconstruction losses).

With ``accumulate == 1`` this is the reference order with one generator forward: G(x),
D's update on (x, y) vs (x, G(x)), then G's update against the updated D. With
``accumulate = k > 1`` it runs in two phases, as StyleGAN2-ADA does: D accumulates over k
micro-batches (generator forward without gradients) and steps, then G accumulates over the
same k micro-batches (a fresh forward, so dropout masks differ from the D phase) and steps.

Everything D needs for its loss is computed inside :class:`DiscriminatorObjective`, one
module call, so that DistributedDataParallel sees exactly one forward per backward.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import torch
from torch import nn

from i2i.assembly.components import LossTerm
from i2i.engine.image_pool import ImagePool
from i2i.engine.precision import Precision
from i2i.losses import AdversarialLoss, Scales, as_scales, gradient_scaling, logits
from i2i.nn.protocols import unwrap
from i2i.nn.sizing import forward_any_size


def set_requires_grad(net: nn.Module | None, flag: bool) -> None:
    if net is not None:
        for p in net.parameters():
            p.requires_grad_(flag)


class DiscriminatorObjective(nn.Module):
    """D's weighted adversarial loss (plus its penalty, e.g. WGAN-GP) for a real and a generated
    pair, and D's health: its mean judgement of realness on real and on generated pairs and
    its accuracy (see :func:`discriminator_health`).

    With ``train.compile``, ``discriminator`` is compiled; the penalty runs D uncompiled (the
    same module and parameters): a gradient penalty backpropagates through D's input gradient,
    a double backward that torch.compile's aot_autograd does not support."""

    def __init__(self, discriminator: nn.Module, adversarial: LossTerm):
        super().__init__()
        self.discriminator = discriminator
        self.adversarial = adversarial

    def forward(self, real_pair: torch.Tensor, fake_pair: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        fake = as_scales(self.discriminator(fake_pair))
        real = as_scales(self.discriminator(real_pair))
        loss = self.adversarial.loss.discriminator_loss(real, fake) * self.adversarial.weight
        penalty = self.adversarial.loss.penalty(unwrap(self.discriminator), real_pair, fake_pair)
        return loss, penalty, discriminator_health(self.adversarial.loss, real, fake)


def discriminator_health(loss: AdversarialLoss, real: Scales, fake: Scales) -> dict[str, torch.Tensor]:
    """``gan_d_real`` / ``gan_d_fake``: D's mean realness (``loss.realness`` of its logits, all
    scales) on real and on generated pairs; ``gan_d_accuracy``: the fraction of its decisions
    (realness above ``loss.decision_threshold`` means "real") that are right, half real and
    half generated. Detached; no host synchronisation."""
    with torch.no_grad():
        on_real = torch.cat([loss.realness(r.float()).flatten() for r in logits(real)])
        on_fake = torch.cat([loss.realness(f.float()).flatten() for f in logits(fake)])
        threshold = loss.decision_threshold
        accuracy = 0.5 * ((on_real > threshold).float().mean() + (on_fake <= threshold).float().mean())
        return {"gan_d_real": on_real.mean(), "gan_d_fake": on_fake.mean(), "gan_d_accuracy": accuracy}


class GANStep:
    """``step(batches)`` performs one optimisation step of D then G over ``batches``
    (``accumulate`` micro-batches of ``(x, y)``) and returns detached loss values
    (no host synchronisation)."""

    def __init__(self, generator: nn.Module, objective: nn.Module | None, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer | None, terms: Sequence[LossTerm], precision: Precision,
                 clip_grad_norm: float | None = None, pool: ImagePool | None = None,
                 pixel_weights: Callable[[torch.Tensor], torch.Tensor | None] | None = None):
        self.generator = generator
        self.objective = objective
        self.discriminator = unwrap(objective).discriminator if objective is not None else None
        self.opt_g = opt_g
        self.opt_d = opt_d
        self.precision = precision
        self.scaler_g = precision.scaler()
        self.scaler_d = precision.scaler() if objective is not None else None
        self.clip = clip_grad_norm
        self.pool = pool
        self.pixel_weights = pixel_weights
        self.adversarial = next((t for t in terms if t.role == "adversarial"), None)
        self.feature_terms = [t for t in terms if t.role == "feature_matching"]
        self.pixel_terms = [t for t in terms if t.role == "reconstruction"]
        if (self.adversarial is None) != (objective is None):
            raise ValueError("an adversarial loss and a discriminator go together")

    # -- public -----------------------------------------------------------------------------

    def __call__(self, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
        if len(batches) == 1:
            return self._single(*batches[0])
        return self._accumulated(batches)

    def scaler_states(self) -> dict[str, dict]:
        return {name: s.state_dict() for name, s in (("g", self.scaler_g), ("d", self.scaler_d)) if s is not None}

    def load_scaler_states(self, states: dict[str, dict]) -> None:
        for name, s in (("g", self.scaler_g), ("d", self.scaler_d)):
            if s is not None and name in states:
                s.load_state_dict(states[name])

    # -- steps --------------------------------------------------------------------------------

    def _single(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        logs: dict[str, torch.Tensor] = {}
        with self.precision.autocast():
            fake = forward_any_size(self.generator, x)
        if self.objective is not None:
            self.opt_d.zero_grad(set_to_none=True)
            self._d_backward(x, y, fake.detach(), 1.0, logs)
            self._optimizer_step(self.opt_d, self.scaler_d, self.discriminator)
        self.opt_g.zero_grad(set_to_none=True)
        self._g_backward(x, y, fake, 1.0, logs)
        self._optimizer_step(self.opt_g, self.scaler_g, self.generator)
        return logs

    def _accumulated(self, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
        k = len(batches)
        parts: list[dict[str, torch.Tensor]] = [{} for _ in batches]
        if self.objective is not None:
            self.opt_d.zero_grad(set_to_none=True)
            for i, (x, y) in enumerate(batches):
                with torch.no_grad(), self.precision.autocast():
                    fake = forward_any_size(self.generator, x)
                with self._no_sync(self.objective, last=i == k - 1):
                    self._d_backward(x, y, fake, 1.0 / k, parts[i])
            self._optimizer_step(self.opt_d, self.scaler_d, self.discriminator)
        self.opt_g.zero_grad(set_to_none=True)
        for i, (x, y) in enumerate(batches):
            with self._no_sync(self.generator, last=i == k - 1):
                with self.precision.autocast():
                    fake = forward_any_size(self.generator, x)
                self._g_backward(x, y, fake, 1.0 / k, parts[i])
        self._optimizer_step(self.opt_g, self.scaler_g, self.generator)
        return {key: torch.stack([p[key] for p in parts]).mean() for key in parts[0]}

    # -- pieces ------------------------------------------------------------------------------

    def _d_backward(self, x: torch.Tensor, y: torch.Tensor, fake: torch.Tensor, scale: float,
                    logs: dict[str, torch.Tensor]) -> None:
        real_pair = torch.cat([x, y], 1)
        fake_pair = torch.cat([x, fake], 1)
        if self.pool is not None:
            fake_pair = self.pool.query(fake_pair)
        with self.precision.autocast(), gradient_scaling(self.scaler_d):  # a penalty's gradient, scaled in fp16
            loss, penalty, health = self.objective(real_pair, fake_pair)
        total = loss if penalty is None else loss + penalty
        self._backward(total * scale, self.scaler_d)
        logs["loss_d"] = loss.detach()
        if penalty is not None:
            logs["loss_d_penalty"] = penalty.detach()
        logs.update(health)

    def _g_backward(self, x: torch.Tensor, y: torch.Tensor, fake: torch.Tensor, scale: float,
                    logs: dict[str, torch.Tensor]) -> None:
        total = fake.new_zeros((), dtype=torch.float32)
        with self.precision.autocast():
            if self.adversarial is not None:
                set_requires_grad(self.discriminator, False)
                fake_scales = as_scales(self.discriminator(torch.cat([x, fake], 1)))
                term = self.adversarial.loss.generator_loss(fake_scales) * self.adversarial.weight
                logs[f"loss_g_{self.adversarial.label}"] = term.detach()
                total = total + term
                if self.feature_terms:
                    real_scales = self._real_features(x, y)
                    for t in self.feature_terms:
                        term = t.loss(fake_scales, real_scales) * t.weight
                        logs[f"loss_g_{t.label}"] = term.detach()
                        total = total + term
            weight = self.pixel_weights(x) if self.pixel_weights is not None else None
            for t in self.pixel_terms:
                term = (t.loss(fake, y) if weight is None else t.loss(fake, y, weight)) * t.weight
                logs[f"loss_g_{t.label}"] = term.detach()
                total = total + term
        self._backward(total * scale, self.scaler_g)
        if self.adversarial is not None:
            set_requires_grad(self.discriminator, True)
        logs["loss_g"] = total.detach()

    @torch.no_grad()
    def _real_features(self, x: torch.Tensor, y: torch.Tensor) -> Scales:
        return as_scales(self.discriminator(torch.cat([x, y], 1)))

    @staticmethod
    def _backward(loss: torch.Tensor, scaler: torch.amp.GradScaler | None) -> None:
        (scaler.scale(loss) if scaler is not None else loss).backward()

    def _optimizer_step(self, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None,
                        net: nn.Module) -> None:
        if self.clip is not None:
            if scaler is not None:
                scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(net.parameters(), self.clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()

    @staticmethod
    def _no_sync(net: nn.Module, last: bool) -> contextlib.AbstractContextManager:
        if not last and hasattr(net, "no_sync"):
            return net.no_sync()
        return contextlib.nullcontext()
