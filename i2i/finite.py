"""Finding NaN and infinite values in tensors, and saying how many there are.

One home for the finite checks of decoded data (:class:`i2i.data.dataset.CheckedDataset`),
``i2i predict`` inputs and the weights the trainer is about to save.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch


def nonfinite_count(tensor: torch.Tensor) -> int:
    """How many values of ``tensor`` are NaN or infinite (0 for integer tensors)."""
    if not (tensor.is_floating_point() or tensor.is_complex()):
        return 0
    return int((~torch.isfinite(tensor)).sum())


def describe_nonfinite(tensor: torch.Tensor) -> str | None:
    """``"3000 NaN and 2 infinite values (of 65536)"``, or None when every value is finite."""
    if nonfinite_count(tensor) == 0:
        return None
    nan = int(torch.isnan(tensor).sum())
    inf = int(torch.isinf(tensor).sum())
    parts = [f"{nan} NaN"] if nan else []
    parts += [f"{inf} infinite"] if inf else []
    return f"{' and '.join(parts)} value(s) (of {tensor.numel()})"


def nonfinite_weights(state_dicts: Mapping[str, Mapping[str, torch.Tensor]]) -> dict[str, int]:
    """``{role: count}`` of NaN/inf values in each state dict that has any (one device sync)."""
    roles, counts = [], []
    for role, state in state_dicts.items():
        floats: Iterable[torch.Tensor] = [t for t in state.values() if t.is_floating_point() and t.numel()]
        if floats:
            roles.append(role)
            counts.append(torch.stack([(~torch.isfinite(t.detach())).sum() for t in floats]).sum())
    if not counts:
        return {}
    values = [int(c) for c in counts]
    return {role: int(n) for role, n in zip(roles, values) if n}
