"""Multi-process training with torchrun and DistributedDataParallel.

``torchrun --nproc_per_node=N -m i2i run RECIPE`` sets RANK/WORLD_SIZE/LOCAL_RANK; i2i then
initialises the process group (NCCL on CUDA, gloo on CPU), shards the data by rank and wraps
the networks in DDP. Rank 0 alone logs, writes samples and checkpoints, and runs events.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def env_rank() -> int:
    """This process's global rank as torchrun set it (0 when not distributed)."""
    return int(os.environ.get("RANK", "0"))


def init_distributed(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the process group when started by torchrun; returns this rank's device."""
    if env_world_size() <= 1:
        return DistInfo(), device
    rank, world, local = int(os.environ["RANK"]), env_world_size(), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank, world, local), device


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True when ``flag`` is true on any rank (an all-reduce; a plain bool without DDP)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather_rng_states(info: DistInfo, state: torch.Tensor, device: torch.device) -> list[torch.Tensor]:
    """Every rank's CPU RNG state (a uint8 tensor), gathered on all ranks (through the
    device for NCCL), returned on the CPU."""
    if not info.enabled:
        return [state]
    local = state.to(device)
    out = [torch.empty_like(local) for _ in range(info.world_size)]
    dist.all_gather(out, local)
    return [t.cpu() for t in out]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_path(info: DistInfo, path: str | None) -> str:
    """Rank 0's ``path`` on every rank (e.g. the run directory it chose)."""
    if not info.enabled:
        assert path is not None
        return path
    box = [path]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def relaunch_with_torchrun(nproc: int, argv: list[str]) -> int:
    """Run ``python -m i2i ARGV`` in ``nproc`` processes on this machine through torchrun."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "i2i", *argv]
    return subprocess.call(command)
