"""Multi-process training with torchrun and DistributedDataParallel.

``torchrun --nproc_per_node=N -m i2i run RECIPE`` sets RANK/WORLD_SIZE/LOCAL_RANK; i2i then
initialises the process group (NCCL on CUDA, gloo on CPU), shards the data by rank and wraps
the networks in DDP. Every rank validates its share of the validation images and takes the
same decisions from the shared result; rank 0 alone logs, writes samples and checkpoints, and
runs events. A collective that one rank never joins fails after the process group's timeout:
:data:`TIMEOUT_SECONDS` (30 minutes; ``I2I_DIST_TIMEOUT`` seconds overrides it), longer than
any validation pass or checkpoint write should take.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from i2i.errors import UsageError

#: Seconds a collective may wait for the other ranks before the run fails (``I2I_DIST_TIMEOUT``).
TIMEOUT_SECONDS = 1800


def timeout() -> timedelta:
    """The process group's timeout: ``I2I_DIST_TIMEOUT`` seconds, else :data:`TIMEOUT_SECONDS`."""
    return timedelta(seconds=float(os.environ.get("I2I_DIST_TIMEOUT", TIMEOUT_SECONDS)))


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
        check_local_rank(local, torch.cuda.device_count())
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timeout())
    return DistInfo(rank, world, local), device


def check_local_rank(local: int, devices: int) -> None:
    """A usage error unless ``LOCAL_RANK`` (this process's GPU on its node) names one of the
    ``devices`` CUDA devices this process sees."""
    if 0 <= local < devices:
        return
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    seen = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
    if devices < 1:
        raise UsageError(f"LOCAL_RANK={local}: this process sees no CUDA device{seen}; run on CPU "
                         "(--device cpu) or make a GPU visible")
    raise UsageError(f"LOCAL_RANK={local}: this process sees {devices} CUDA device(s){seen}, ordinals 0.."
                     f"{devices - 1}, so it has no GPU of its own; start at most {devices} process(es) per node "
                     f"(torchrun --nproc_per_node={devices}, or i2i run --nproc {devices}), or make more GPUs visible")


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


def all_reduce_sum(t: torch.Tensor) -> None:
    """Sum ``t`` over the ranks, in place."""
    dist.all_reduce(t, op=dist.ReduceOp.SUM)


def all_gather(info: DistInfo, state: torch.Tensor, device: torch.device) -> list[torch.Tensor]:
    """Every rank's ``state`` (an RNG state, or any tensor of one shape on all ranks), gathered on
    all ranks (through the device for NCCL), returned on the CPU."""
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


#: Under ``i2i run --nproc N``: the file rank 0 writes how the run ended to, for the launcher.
STATUS_FILE_ENV = "I2I_STATUS_FILE"
#: The exit code of an interrupted run (Ctrl-C, SIGTERM), as a shell gives for SIGINT.
INTERRUPTED_EXIT = 130


def relaunch_with_torchrun(nproc: int, argv: list[str]) -> int:
    """Run ``python -m i2i ARGV`` in ``nproc`` processes on this machine through torchrun;
    returns its exit code, or :data:`INTERRUPTED_EXIT` when rank 0 reports an interrupted run
    (the ranks themselves end with 0 then, so torchrun does not report them as failures)."""
    with tempfile.TemporaryDirectory(prefix="i2i-status-") as folder:
        status = Path(folder) / "status"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                   "-m", "i2i", *argv]
        code = subprocess.call(command, env={**os.environ, STATUS_FILE_ENV: str(status)})
        ended = status.read_text().strip() if status.is_file() else None
    return INTERRUPTED_EXIT if ended == "interrupted" else code


def exit_code_of(status: str, info_rank: int) -> int:
    """The exit code of a process whose run ended with ``status``: 0, or for an interrupted run
    :data:`INTERRUPTED_EXIT` in a single process; under torchrun every rank ends with 0 and rank
    0 leaves the status for :func:`relaunch_with_torchrun`."""
    if status != "interrupted":
        return 0
    if env_world_size() == 1:
        return INTERRUPTED_EXIT
    target = os.environ.get(STATUS_FILE_ENV)
    if target and info_rank == 0:
        Path(target).write_text(status)
    return 0
