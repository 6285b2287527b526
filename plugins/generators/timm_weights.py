"""Loading a local weights file into a timm ``features_only`` encoder.

The file may hold the full timm model's state dict (``timm.create_model(name).state_dict()``,
or a Hugging Face ``model.safetensors`` in timm's format) or the ``features_only`` model's
own. ``features_only`` wrappers rename some keys (``FeatureListNet`` flattens
``stages.0`` to ``stages_0``; ``FeatureGetterNet`` adds ``model.``); both spellings are
accepted. A 3-channel first convolution is adapted to the model's ``in_chans`` the way
timm does (``timm.models.adapt_input_conv``: summed for one channel, repeated and
rescaled for more). Every encoder tensor must be found with a fitting shape, else the
error lists what is missing or mismatched; file tensors the encoder does not use are
ignored silently when they belong to the full model (its classifier head and final
layers) and reported with a warning otherwise.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import torch
from torch import nn

from i2i.nn import load_state_file

_SHOWN = 8


def candidate_keys(key: str) -> Iterator[str]:
    """The names an encoder tensor ``key`` may have in a weights file."""
    yield key
    stripped = key.removeprefix("model.")
    if stripped != key:
        yield stripped
    first, dot, rest = stripped.partition(".")
    for i, char in enumerate(first):
        if char == "_":
            yield f"{first[:i]}.{first[i + 1:]}{dot}{rest}"


def load_encoder_weights(encoder: nn.Module, backbone: str, path: str, in_channels: int) -> None:
    """Copy the tensors of the weights file ``path`` into ``encoder`` (see the module doc)."""
    source = load_state_file(path)
    loaded: dict[str, torch.Tensor] = {}
    missing: list[str] = []
    mismatched: list[str] = []
    used: set[str] = set()
    for key, target in encoder.state_dict().items():
        name = next((k for k in candidate_keys(key) if k in source), None)
        if name is None:
            if not key.endswith("num_batches_tracked"):
                missing.append(key)
            continue
        used.add(name)
        value = source[name]
        if value.shape != target.shape:
            value = _adapted_input_conv(value, target, in_channels)
            if value is None:
                mismatched.append(f"{key} {tuple(source[name].shape)} (model: {tuple(target.shape)})")
                continue
        loaded[key] = value
    if missing or mismatched:
        raise ValueError(_mismatch_message(path, backbone, len(loaded), missing, mismatched))
    if not _on_meta(encoder):  # on the meta device (i2i summary) checking the file is all there is to do
        encoder.load_state_dict(loaded, strict=False)
    unknown = sorted(set(source) - used - _full_model_keys(backbone, in_channels))
    if unknown:
        warnings.warn(f"weights file {path!r}: {len(unknown)} tensors are not part of timm {backbone!r} and were "
                      f"ignored: {_listed(unknown)}", stacklevel=2)


def _on_meta(module: nn.Module) -> bool:
    return any(t.is_meta for t in module.state_dict().values())


def _adapted_input_conv(value: torch.Tensor, target: torch.Tensor, in_channels: int) -> torch.Tensor | None:
    """``value`` adapted to ``in_channels`` when it is the first convolution's weight, else None."""
    from timm.models import adapt_input_conv

    is_input_conv = (value.ndim == 4 and target.ndim == 4 and target.shape[1] == in_channels
                     and value.shape[0] == target.shape[0] and value.shape[2:] == target.shape[2:])
    if not is_input_conv:
        return None
    try:
        adapted = adapt_input_conv(in_channels, value)
    except (NotImplementedError, AssertionError, ValueError):
        return None
    return adapted if adapted.shape == target.shape else None


def _full_model_keys(backbone: str, in_channels: int) -> set[str]:
    """The state-dict keys of the full timm model (built on the meta device: no memory)."""
    import timm

    try:
        with torch.device("meta"):
            return set(timm.create_model(backbone, pretrained=False, in_chans=in_channels).state_dict())
    except Exception:  # a model that cannot be built on meta: report every unused tensor
        return set()


def _mismatch_message(path: str, backbone: str, found: int, missing: list[str], mismatched: list[str]) -> str:
    parts = [f"weights file {path!r} does not fit timm backbone {backbone!r} ({found} encoder tensors found"]
    if missing:
        parts.append(f"; {len(missing)} missing from the file: {_listed(missing)}")
    if mismatched:
        parts.append(f"; {len(mismatched)} with another shape: {_listed(mismatched)}")
    parts.append(f"). Expected a state dict of timm.create_model({backbone!r}) (e.g. its Hugging Face "
                 "model.safetensors) or of its features_only model")
    return "".join(parts)


def _listed(names: list[str]) -> str:
    more = f", ... ({len(names) - _SHOWN} more)" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more
