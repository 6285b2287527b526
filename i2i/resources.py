"""Running out of a resource (memory, disk, threads) as a message that names the cause and
the settings that change it, instead of a traceback."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator

import torch

from i2i.errors import I2IError, UsageError
from i2i.messages import warn

#: CPU allocator failures (torch raises RuntimeError, not MemoryError).
_CPU_OOM = re.compile(r"DefaultCPUAllocator: (?:can't allocate memory|not enough memory)"
                      r"(?:: you tried to allocate (\d+) bytes)?")
#: More threads than this many times the usable cores is refused (torch would thrash or crash).
THREADS_PER_CORE_LIMIT = 4


class OutOfResources(I2IError):
    """Memory or disk ran out; the message says which and what to change."""


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_num_threads(threads: int | None, key: str = "train.num_threads") -> None:
    """Refuse a thread count far above the usable cores; warn above the core count."""
    if not threads:
        return
    cores = usable_cores()
    if threads > THREADS_PER_CORE_LIMIT * cores:
        raise UsageError(f"{key}: {threads} threads for {cores} usable CPU core(s); torch gains nothing from "
                         f"more threads than cores (and runs out of memory for their stacks): set at most "
                         f"{cores}, or leave it unset for torch's choice")
    if threads > cores:
        warn(f"{key} = {threads} is more than the {cores} usable CPU core(s); extra threads only slow torch down")


def out_of_memory(exc: BaseException) -> str | None:
    """``"the GPU"``/``"the CPU"`` when ``exc`` is an allocation failure there, else None."""
    if isinstance(exc, torch.OutOfMemoryError):
        return "the GPU"
    if isinstance(exc, MemoryError):
        return "the CPU"
    if isinstance(exc, RuntimeError) and _CPU_OOM.search(str(exc)):
        return "the CPU"
    return None


#: How safetensors' writer (Rust) words a full disk or quota in the text of its SafetensorError.
_SAFETENSORS_FULL = re.compile(r"No space left|StorageFull|QuotaExceeded|os error (?:28|122)\b")


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that failed for lack of space (or quota): an ``OSError``
    (ENOSPC, EDQUOT), or safetensors' ``SafetensorError``, which is no ``OSError`` and says it
    in its text."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return type(exc).__name__ == "SafetensorError" and bool(_SAFETENSORS_FULL.search(str(exc)))


@contextlib.contextmanager
def resource_errors(memory_knobs: str) -> Iterator[None]:
    """Turn out-of-memory and disk-full errors raised inside into :class:`OutOfResources`;
    ``memory_knobs`` says what lowers the memory needed (e.g. ``"train.batch_size (now 8)"``)."""
    try:
        yield
    except Exception as exc:
        where = out_of_memory(exc)
        if where is not None:
            asked = _CPU_OOM.search(str(exc))
            size = f" (an allocation of {int(asked.group(1)) / 2**30:.1f} GiB failed)" if asked and asked.group(1) \
                else ""
            raise OutOfResources(f"out of memory on {where}{size}: lower {memory_knobs}") from None
        if disk_full(exc):
            name = f" writing {exc.filename}" if getattr(exc, "filename", None) else ""
            raise OutOfResources(f"no space left on the device{name}: free space there or choose another "
                                 "location") from None
        raise


def training_memory_knobs(recipe) -> str:
    """What lowers a training run's memory, with the recipe's current values."""
    d, t = recipe.data, recipe.train
    size = (f"data.crop_size (now {d.crop_size})" if d.preprocess in ("resize_and_crop", "crop", "scale_width_and_crop")
            else f"the image size (data.preprocess = {d.preprocess!r} trains on images as they are: "
                 "\"crop\" with a data.crop_size bounds them)")
    return (f"train.batch_size (now {t.batch_size}), {size}, or the network size (generator/discriminator "
            "options such as ngf/ndf and depth)")
