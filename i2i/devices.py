"""Where and at what precision networks run: the one device picker and the one precision
table of training, prediction, evaluation and export."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from i2i.errors import UsageError

#: Precision name -> autocast dtype (``None``: plain float32).
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def pick_device(requested: str, option: str = "--device") -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is a usage error
    naming ``option`` (``--device``, ``run.device``)."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"{option}: 'cuda' was asked for but no CUDA device is available "
                         f"(torch {torch.__version__}); use --device cpu or auto")
    return torch.device(requested)


def check_precision(name: str, device: torch.device, option: str = "--precision") -> None:
    """A usage error unless ``name`` is a precision of :data:`DTYPES` that ``device`` runs
    (fp16 needs CUDA)."""
    if name not in DTYPES:
        raise UsageError(f"{option}: {name!r} is not one of {', '.join(DTYPES)}")
    if name == "fp16" and device.type != "cuda":
        raise UsageError(f"{option}: 'fp16' needs a CUDA device; on CPU use 'bf16' or 'fp32'")


def autocast(name: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of precision ``name`` on ``device`` (a no-op for fp32)."""
    dtype = DTYPES[name]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def configure_device(device: torch.device) -> None:
    """Process-wide speed settings for ``device``, applied when a run, a prediction or an
    evaluation starts (never at import): cuDNN autotuning on CUDA; on CPU, denormal floats
    flushed to zero. Denormals (magnitudes below 1.2e-38, e.g. in deep layers of an
    untrained or weakly activated network) make x86 float arithmetic 10-100x slower; the
    inference benchmark saw a U-Net drop from 30 to 1.4 images/s on them."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    else:
        torch.set_flush_denormal(True)


def _tf32_switches() -> list[tuple[object, str, object]]:
    """``(object, attribute, full-fp32 value)`` of the TF32 switches of convolutions and matrix
    products: the ``fp32_precision`` API where torch has it (the legacy ``allow_tf32`` flags may
    not be mixed with it), else the legacy flags."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    if hasattr(getattr(cudnn, "conv", None), "fp32_precision") and hasattr(matmul, "fp32_precision"):
        return [(cudnn.conv, "fp32_precision", "ieee"), (matmul, "fp32_precision", "ieee")]
    return [(cudnn, "allow_tf32", False), (matmul, "allow_tf32", False)]


@contextlib.contextmanager
def full_fp32() -> Iterator[None]:
    """Float32 convolutions and matrix products in full float32 inside the block: no TF32,
    which CUDA uses for float32 convolutions by default on Ampere and later GPUs (inputs
    rounded to a 10-bit mantissa: about 1e-3 relative). For comparing a model on the GPU
    with a CPU reference; the previous settings are restored after."""
    switches = _tf32_switches()
    before = [getattr(owner, name) for owner, name, _ in switches]
    try:
        for owner, name, value in switches:
            setattr(owner, name, value)
        yield
    finally:
        for (owner, name, _), value in zip(switches, before):
            setattr(owner, name, value)
