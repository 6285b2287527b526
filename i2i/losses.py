"""Base classes for loss components and the discriminator output layout.

A discriminator's output is normalised to ``Scales``: a list with one entry per scale,
each a list of feature maps ending with that scale's logits. Gradient penalties take D's
gradient with respect to its input through :func:`input_gradients`, which honours the fp16
grad scaler the engine sets around D's loss (:func:`gradient_scaling`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import ClassVar

import torch

Scales = list[list[torch.Tensor]]


def as_scales(output: torch.Tensor | Sequence) -> Scales:
    """Any discriminator output (a tensor, a list of tensors, or a list of lists) as ``Scales``."""
    if isinstance(output, torch.Tensor):
        return [[output]]
    return [[item] if isinstance(item, torch.Tensor) else list(item) for item in output]


def logits(scales: Scales) -> list[torch.Tensor]:
    """The last entry (the logits) of every scale."""
    return [scale[-1] for scale in scales]


class AdversarialLoss:
    """An adversarial objective. Subclasses implement the two terms per scale; the
    total is the sum over scales (pix2pixHD)."""

    role: ClassVar[str] = "adversarial"
    #: Where D's :meth:`realness` separates "real" (above) from "generated" (below): the GAN
    #: health of every run (D's mean output on real and generated pairs, its accuracy) reads it.
    decision_threshold: float = 0.5

    def realness(self, logits: torch.Tensor) -> torch.Tensor:
        """D's outputs as its judgement of realness, on the scale of ``decision_threshold``
        (the outputs themselves by default: LSGAN's targets are 1 and 0)."""
        return logits

    def d_term(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The discriminator's loss on one scale's logits."""
        raise NotImplementedError

    def g_term(self, fake: torch.Tensor) -> torch.Tensor:
        """The generator's loss on one scale's logits for generated images."""
        raise NotImplementedError

    def discriminator_loss(self, real: Scales, fake: Scales) -> torch.Tensor:
        """Summed over scales."""
        return sum(self.d_term(r, f) for r, f in zip(logits(real), logits(fake)))

    def generator_loss(self, fake: Scales) -> torch.Tensor:
        """Summed over scales."""
        return sum(self.g_term(f) for f in logits(fake))

    def penalty(self, discriminator: torch.nn.Module, real_pair: torch.Tensor,
                fake_pair: torch.Tensor) -> torch.Tensor | None:
        """An extra discriminator term that needs D itself (e.g. a gradient penalty), or ``None``.
        Take D's gradient with respect to its input with :func:`input_gradients` (fp16 safe)."""
        return None


#: The largest scale :func:`input_gradients` applies: the largest power of two below fp16's
#: maximum (65504), so the gradient of a summed fp16 output does not overflow (GradScaler starts at 2**16).
MAX_OUTPUT_SCALE = 2.0 ** 15

_scaler: contextvars.ContextVar[torch.amp.GradScaler | None] = contextvars.ContextVar("i2i_grad_scaler",
                                                                                     default=None)


@contextlib.contextmanager
def gradient_scaling(scaler: torch.amp.GradScaler | None) -> Iterator[None]:
    """Within the block, :func:`input_gradients` scales by ``scaler`` (the engine sets D's fp16
    grad scaler around D's loss; ``None``: no scaling)."""
    token = _scaler.set(scaler)
    try:
        yield
    finally:
        _scaler.reset(token)


def input_gradients(outputs: Sequence[torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
    """The gradient of the sum of ``outputs`` with respect to ``inputs``, with its graph kept
    (a gradient penalty backpropagates through it). Under fp16 with a grad scaler
    (:func:`gradient_scaling`), the outputs are scaled before the backward pass and the
    gradient unscaled after, PyTorch's AMP recipe for gradient penalties: unscaled, D's fp16
    backward pass underflows to zero where gradients are small. The scale is capped at
    :data:`MAX_OUTPUT_SCALE` (the gradient reaching each fp16 output is the scale itself) and
    stays a device tensor (no host synchronisation)."""
    totals = [o.sum() for o in outputs]
    scaler = _scaler.get()
    if scaler is None or not scaler.is_enabled():
        return torch.autograd.grad(outputs=totals, inputs=inputs, create_graph=True)[0]
    scale = scaler.scale(torch.ones((), dtype=torch.float32, device=inputs.device)).clamp(max=MAX_OUTPUT_SCALE)
    grads = torch.autograd.grad(outputs=[t * scale for t in totals], inputs=inputs, create_graph=True)[0]
    return grads / scale


class FeatureMatchingLoss:
    """A loss between the discriminator features of generated and real pairs:
    ``loss(fake_scales, real_scales)`` (real features arrive detached)."""

    role: ClassVar[str] = "feature_matching"

    def __call__(self, fake: Scales, real: Scales) -> torch.Tensor:
        raise NotImplementedError


class ReconstructionLoss:
    """A loss between the generator's output and the target: ``loss(output, target, weight)``.

    ``weight`` is ``None`` or per-pixel weights (N, 1, H, W) from the task (inpainting weighs
    the hole); losses that cannot weigh pixels ignore it and say so in their docstring.
    """

    role: ClassVar[str] = "reconstruction"

    def __call__(self, output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError


def weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` (N, C, H, W), weighted per pixel by ``weight`` (N, 1, H, W) when given."""
    if weight is None:
        return values.mean()
    weight = weight.to(values.dtype)
    return (values * weight).sum() / (weight.sum() * values.shape[1]).clamp_min(1e-12)
