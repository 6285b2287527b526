"""Out of memory ends with a message naming the cause and the settings that lower it
(issue 15, item 6); see tests/test_checkpoint_safety.py for a full disk."""

from __future__ import annotations

import pytest
import torch

from i2i.resources import OutOfResources, resource_errors
from tests.conftest import CT_RECIPE, TINY_CT, invoke_cli


def test_real_cpu_allocation_failure_names_the_size_and_knobs():
    with pytest.raises(OutOfResources) as err:
        with resource_errors("train.batch_size (now 2000)"):
            torch.empty(2**60, dtype=torch.uint8)
    assert str(err.value).startswith("out of memory on the CPU (an allocation of ")
    assert str(err.value).endswith("GiB failed): lower train.batch_size (now 2000)")


def test_other_errors_pass_through():
    with pytest.raises(ValueError, match="not a resource"):
        with resource_errors("x"):
            raise ValueError("not a resource")


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20 GiB"),
                                   RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't "
                                                "allocate memory: you tried to allocate 36772550432 bytes.")])
def test_out_of_memory_during_training(tmp_path, monkeypatch, error):
    # i2i run R --set train.batch_size=2000 (or a 12000 x 12000 image with preprocess = "none"): a traceback
    from i2i.engine.gan_step import GANStep

    def exhausted(self, batches):
        raise error

    monkeypatch.setattr(GANStep, "__call__", exhausted)
    code, output = invoke_cli("run", CT_RECIPE, *TINY_CT, "--out", tmp_path / "run", "--quiet")
    assert code == 1 and "Traceback" not in output, output
    assert "out of memory on the " in output and "lower train.batch_size (now 2)" in output
    assert "data.preprocess = 'none' trains on images as they are" in output
    assert not (tmp_path / "run" / ".i2i-run.lock").exists()
