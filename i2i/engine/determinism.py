"""``run.deterministic``: deterministic algorithms for the training loop, so a CUDA resume is
bit-exact where PyTorch allows, and the operations that prevent it, named.

What "exact resume" means on each device (README, the paragraph of that name): on the CPU a
resumed run equals an uninterrupted one bit for bit, with or without this mode (a test and
``benchmarks.kill_resume`` check it). On CUDA the checkpoint restores the same state (weights,
optimisers, every RNG, data position), but by default cuDNN autotuning may pick other
convolution algorithms after a restart and some backward passes accumulate with atomics, so
a resumed run drifts from an uninterrupted one by float rounding. With ``run.deterministic``
cuDNN runs its deterministic algorithms without autotuning, cuBLAS a fixed workspace
(``CUBLAS_WORKSPACE_CONFIG``), and every operation without a deterministic CUDA kernel is
collected (``warn_only``: training goes on) and named once at the end of training: the
resume is bit-exact when that list is empty.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

import torch

from i2i.messages import note

#: The cuBLAS workspace setting that makes its matrix products deterministic (CUDA docs,
#: "Results reproducibility"); set when not already set, before the first cuBLAS call.
CUBLAS_WORKSPACE = ":4096:8"
#: How PyTorch's alert for an operation without a deterministic implementation reads.
ALERT = " does not have a deterministic implementation"
#: How PyTorch's alert for cuBLAS without a fixed workspace reads.
CUBLAS_ALERT = "because it uses CuBLAS"


def operation_of(message: str) -> str | None:
    """The operation a PyTorch determinism alert names, or ``None`` for other warnings."""
    if ALERT in message:
        return message.split(ALERT)[0].strip()
    if CUBLAS_ALERT in message:
        return "cuBLAS (CUBLAS_WORKSPACE_CONFIG was set after CUDA started; set it before starting Python)"
    return None


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool, announce: bool = True) -> Iterator[list[str]]:
    """Deterministic algorithms inside the block (when ``enabled``), the previous settings
    restored after. Yields the list of operations that ran without a deterministic
    implementation, filled as they run; said in one line at the end when ``announce``."""
    operations: list[str] = []
    if not enabled:
        yield operations
        return
    cudnn = torch.backends.cudnn
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             cudnn.deterministic, cudnn.benchmark, os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True, warn_only=True)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("always", message=f".*({ALERT}|{CUBLAS_ALERT})")
            shown = warnings.showwarning

            def collect(message, category, filename, lineno, file=None, line=None):
                operation = operation_of(str(message))
                if operation is None:
                    shown(message, category, filename, lineno, file, line)
                elif operation not in operations:
                    operations.append(operation)

            warnings.showwarning = collect
            yield operations
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        cudnn.deterministic, cudnn.benchmark = saved[2], saved[3]
        if saved[4] is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        if operations and announce:
            note(f"run.deterministic: {len(operations)} operation(s) ran without a deterministic implementation, so "
                 f"a resume is not bit-exact where they ran: {', '.join(operations)}")
