"""Recipe combinations PyTorch itself cannot train, refused when the recipe is checked (before
anything is built or a GPU is touched), each message naming the combination and what to
change. A combination i2i can work around is not here: ``train.compile`` with a gradient
penalty runs the penalty on the uncompiled discriminator (see
:class:`i2i.engine.gan_step.DiscriminatorObjective`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from i2i.losses import AdversarialLoss
from i2i.recipe.model import ComponentSpec, LossSpec


def has_penalty(loss: Any) -> bool:
    """Whether an adversarial loss adds a penalty that needs D's input gradient (it overrides
    :meth:`i2i.losses.AdversarialLoss.penalty`; WGAN-GP does)."""
    method = getattr(type(loss), "penalty", None)
    return method is not None and method is not AdversarialLoss.penalty


def has_batch_norm(net: nn.Module) -> bool:
    """Whether ``net`` has batch-norm layers (which ``train.sync_batchnorm`` converts)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


def sync_batchnorm_problem(plugins: Any, task: ComponentSpec | None, discriminator: ComponentSpec | None,
                           adversarial: LossSpec | None) -> str | None:
    """``train.sync_batchnorm`` with a gradient penalty (WGAN-GP) and a batch-norm discriminator:
    the penalty's double backward through SyncBatchNorm is not implemented in PyTorch
    (pytorch#61222), so the first D step of a distributed run would fail. The message, or
    ``None`` when the combination is fine (or cannot be built here: the run reports that)."""
    if task is None or discriminator is None or adversarial is None:
        return None
    try:
        loss = plugins["losses"].build(adversarial.name, adversarial.options)
        if not has_penalty(loss):
            return None
        built_task = plugins["tasks"].build(task.name, task.options)
        with torch.device("meta"):  # the layers only: no memory, no initialisation cost
            net = plugins["discriminators"].build(discriminator.name, discriminator.options,
                                                  in_channels=built_task.in_channels + built_task.out_channels)
    except Exception:  # noqa: BLE001 - a component's own error is reported when the run builds it
        return None
    if not isinstance(net, nn.Module) or not has_batch_norm(net):
        return None
    norm = discriminator.options.get("norm")
    change = (f'discriminator.norm = "instance" or "none" (now {norm!r})' if norm is not None
              else "a discriminator without batch norm")
    return (f"true with losses.{adversarial.label} ({adversarial.name!r}, a gradient penalty) and a batch-norm "
            f"discriminator ({discriminator.name!r}): the penalty's double backward through SyncBatchNorm is not "
            "implemented in PyTorch (pytorch#61222), so a distributed run would fail at its first step; use "
            f"{change}, another adversarial loss, or train.sync_batchnorm = false")
