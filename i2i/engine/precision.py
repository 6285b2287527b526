"""Mixed precision: autocast dtype per device and grad scalers for fp16."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from i2i.devices import DTYPES, autocast
from i2i.errors import UsageError
from i2i.messages import warn


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively: CUDA GPUs of compute capability 8.0 and up
    (A100, H100, RTX 30xx...), ROCm GPUs, and CPUs whose flags say so (:func:`cpu_native_bf16`).
    ``torch.cuda.is_bf16_supported()`` also says yes where bf16 is emulated (T4, V100:
    sm75/sm70), slower than fp32, and asks the current device rather than ``device``."""
    if device.type == "cpu":
        return bool(cpu_native_bf16())
    if device.type != "cuda":
        return False
    if torch.version.hip:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.cuda.get_device_capability(device)[0] >= 8


#: CPU flags of native bf16 arithmetic in ``/proc/cpuinfo``: Intel AMX and AVX512-BF16 (also
#: AMD Zen 4), Arm's BF16 extension (Neoverse V1/V2, Graviton 3 and later).
CPU_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16", "bf16"})


def cpu_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether this machine's CPU computes bf16 natively (:data:`CPU_BF16_FLAGS` among the flags
    of ``cpuinfo``); None where that file cannot be read (not Linux): unknown. Without native
    bf16, autocast on a CPU is emulated: 45 times slower than fp32 for the pix2pix U-Net on an
    AVX2 EPYC; with AMX a CT U-Net's training step takes half the time of fp32 (BENCHMARKS.md)."""
    try:
        with open(cpuinfo) as lines:
            flags = set(lines.read().split())
    except OSError:
        return None
    return bool(flags & CPU_BF16_FLAGS)


def resolve_precision(requested: str, device: torch.device) -> str:
    """``auto`` -> bf16 on CUDA devices that compute it natively (:func:`native_bf16`), fp32
    otherwise (on CPUs too: the recipes that leave ``train.precision`` at ``auto`` were
    measured in fp32). ``bf16`` asked for on a CPU whose flags show no native bf16 trains in
    fp32, with a warning: emulated there, it would take tens of times longer (where the flags
    cannot be read, bf16 is used as asked). fp16 needs CUDA."""
    if requested == "auto":
        return "bf16" if device.type == "cuda" and native_bf16(device) else "fp32"
    if requested == "bf16" and device.type == "cpu" and cpu_native_bf16() is False:
        warn("train.precision: 'bf16' on a CPU without native bf16 (no AMX-BF16, AVX512-BF16 or Arm BF16) would be "
             "emulated, tens of times slower than fp32: training in fp32")
        return "fp32"
    if requested == "bf16" and device.type == "cuda" and not native_bf16(device):
        major, minor = torch.cuda.get_device_capability(device)
        warn(f"train.precision: 'bf16' on {torch.cuda.get_device_name(device)} (compute capability {major}.{minor}) "
             "is emulated, slower than fp32; use 'fp16' (with its grad scaler) or 'fp32' on this GPU")
    if requested == "fp16" and device.type != "cuda":
        raise UsageError("train.precision: 'fp16' needs a CUDA device (its grad scaler guards fp16 gradients); "
                         "on CPU use 'bf16' or 'fp32'")
    return requested


@dataclass
class Precision:
    """What a training step needs to know about precision."""

    name: str
    device: torch.device

    @property
    def dtype(self) -> torch.dtype | None:
        return DTYPES[self.name]

    def autocast(self) -> contextlib.AbstractContextManager:
        """The autocast context for forward passes (a no-op for fp32)."""
        return autocast(self.name, self.device)

    def scaler(self) -> torch.amp.GradScaler | None:
        """A grad scaler for fp16, else ``None``."""
        return torch.amp.GradScaler(self.device.type) if self.name == "fp16" else None
