"""Reading network weights from a local file without ever unpickling code."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

#: File suffixes :func:`load_state_file` reads.
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "module")
_DIRECTORY_FILES = ("model.safetensors", "pytorch_model.bin")


def load_state_file(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a local weights file, on the CPU.

    ``.safetensors`` is read with safetensors; ``.pth``/``.pt``/``.bin`` only with
    ``torch.load(..., weights_only=True)``, which refuses pickled code. A directory is
    searched for ``model.safetensors`` then ``pytorch_model.bin`` (a Hugging Face model
    folder). A checkpoint that wraps its weights (``{"state_dict": ...}``, ``{"model": ...}``)
    is unwrapped and a DataParallel/DDP ``module.`` prefix is removed.
    """
    file = _resolve(Path(path).expanduser())
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(file), device="cpu")
        except Exception as exc:
            raise ValueError(f"weights file {str(file)!r} is not a readable safetensors file: {exc}") from exc
    else:
        try:
            state = torch.load(file, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
            raise ValueError(f"weights file {str(file)!r} could not be read with torch.load(weights_only=True) "
                             f"(i2i never unpickles code; save the weights as .safetensors): {exc}") from exc
    return _flatten(state, file)


def _resolve(path: Path) -> Path:
    if path.is_dir():
        for name in _DIRECTORY_FILES:
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(f"weights directory {str(path)!r} holds none of: {', '.join(_DIRECTORY_FILES)}")
    if not path.exists():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    if path.suffix not in WEIGHT_SUFFIXES:
        raise ValueError(f"weights file {str(path)!r} has suffix {path.suffix!r}; accepted: "
                         + ", ".join(WEIGHT_SUFFIXES))
    return path


def _flatten(state: object, file: Path) -> dict[str, torch.Tensor]:
    while isinstance(state, dict) and not _all_tensors(state):
        inner = next((state[k] for k in _WRAPPER_KEYS if isinstance(state.get(k), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict) or not _all_tensors(state):
        raise ValueError(f"weights file {str(file)!r} does not hold a state dict (a mapping of names to tensors)")
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return dict(state)


def _all_tensors(state: dict) -> bool:
    return all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
