"""Weight initialisation as in pytorch-CycleGAN-and-pix2pix's ``init_weights``."""

from __future__ import annotations

from typing import Literal

from torch import nn

InitName = Literal["normal", "xavier", "kaiming", "orthogonal"]
INIT_NAMES = ("normal", "xavier", "kaiming", "orthogonal")


def init_weights(net: nn.Module, init: InitName = "normal", gain: float = 0.02) -> nn.Module:
    """Initialise conv/linear weights with ``init`` (scaled by ``gain``) and zero biases;
    batch-norm weights ~ N(1, gain), biases 0. Returns ``net``.

    Spectrally normalised layers are initialised through their underlying weight
    (``weight_orig``, or the parametrization's ``original``), which the reference never
    had to handle.
    """
    if init not in INIT_NAMES:
        raise ValueError(f"unknown init {init!r}; accepted: " + ", ".join(repr(n) for n in INIT_NAMES))

    def init_module(m: nn.Module) -> None:
        name = type(m).__name__
        weight = _weight_parameter(m)
        if weight is not None and ("Conv" in name or "Linear" in name):
            if init == "normal":
                nn.init.normal_(weight, 0.0, gain)
            elif init == "xavier":
                nn.init.xavier_normal_(weight, gain=gain)
            elif init == "kaiming":
                nn.init.kaiming_normal_(weight, a=0, mode="fan_in")
            else:
                nn.init.orthogonal_(weight, gain=gain)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif "BatchNorm2d" in name and weight is not None:
            nn.init.normal_(weight, 1.0, gain)
            nn.init.zeros_(m.bias)

    net.apply(init_module)
    return net


def _weight_parameter(m: nn.Module) -> nn.Parameter | None:
    """The trainable tensor behind ``m.weight``, without computing a parametrized weight."""
    parametrizations = getattr(m, "parametrizations", None)
    if parametrizations is not None and "weight" in parametrizations:
        return parametrizations["weight"].original
    weight = m._parameters.get("weight")
    if weight is None:
        weight = m._parameters.get("weight_orig")  # torch.nn.utils.spectral_norm
    return weight if isinstance(weight, nn.Parameter) else None
