"""A training step reads no device value on the host (on CUDA each read is a host
synchronisation), except what CONTRIBUTING.md ("Host synchronisation") lists: counted on the CPU
by patching ``torch.Tensor``'s reading methods (:mod:`tests.host_reads`) over the plain steps of
a short run of each task (no logging, validation, sample or checkpoint step among them)."""

from __future__ import annotations

import pytest

from tests.conftest import CT_RECIPE, TINY_CT, data_path, train_in_process
from tests.host_reads import copies_to_other_devices, count_per_step

#: Steps 1 and 2 are plain; step 3, the last, logs, samples and checkpoints.
PLAIN = ("train.steps=3", "train.log_every=100", "train.sample_every=100", "train.checkpoint_every=100")
ALL_DEGRADATIONS = 'task.degradations=["blur", "noise", "jpeg", "downsample"]'

#: Reads per plain step by call site, as CONTRIBUTING.md documents them. Host values (no device
#: synchronisation on CUDA): restoration's blur sigmas and JPEG qualities checked by kornia (5),
#: its scale factors grouped (3). Device values: the CT physics' view counts and doses
#: (i2i/medical/physics.py). ``None``: a count that depends on the data (kornia's Canny
#: hysteresis reads once per iteration).
BUDGET = {
    "paired": {},
    "paired, ema + clip + accumulate": {},
    "colorization": {},
    "inpainting": {},
    "restoration": {},
    "restoration, every degradation": {"plugins/tasks/restoration.py:degrade": 5,
                                       "plugins/tasks/restoration.py:downsample": 3},
    "edges2photo": {"plugins/tasks/edges2photo.py:edges": None},
    "ct_sparse_view": {"i2i/medical/physics.py:_angles": 4},
    "ct_low_dose": {},
    "mr_to_ct": {},
}


def _run(case: str, tiny_recipe, synthetic_images) -> tuple[object, list[str]]:
    task = case.split(",")[0]
    if task.startswith("ct_"):
        sets = [s for s in TINY_CT if s != "--set" and not s.startswith("train.steps")] + [f'task.name="{task}"']
        return CT_RECIPE, sets
    if task == "mr_to_ct":
        return "recipes/mr_to_ct.toml", [f'data.root="{data_path("mr_ct_brain")}"', "data.load_size=64",
                                         "data.crop_size=64", "generator.ngf=4", "discriminator.ndf=4",
                                         "train.batch_size=2", "data.val_fraction=0", "data.test_fraction=0"]
    if task == "paired":
        extra = ["train.ema_decay=0.9", "train.clip_grad_norm=1.0", "train.accumulate=2"] if "ema" in case else []
        return tiny_recipe, extra
    sets = [f'task.name="{task}"', 'source.name="folder"', f'source.root="{synthetic_images}"', "data.load_size=40",
            "data.crop_size=32"]
    return tiny_recipe, sets + ([ALL_DEGRADATIONS] if "every" in case else [])


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BUDGET))
def test_a_training_step_reads_only_what_is_documented(case, tiny_recipe, synthetic_images, tmp_path, monkeypatch):
    recipe, sets = _run(case, tiny_recipe, synthetic_images)
    steps = count_per_step(monkeypatch)
    train_in_process(recipe, tmp_path / "run", *sets, *PLAIN)
    assert len(steps) == 3
    for step in steps[:2]:
        budget = BUDGET[case]
        assert set(step) == set(budget), f"{case}: reads at {dict(step)}, documented {budget}"
        for site, count in budget.items():
            assert count is None or step[site] == count, f"{case}: {site} read {step[site]} times, documented {count}"
    assert steps[2]  # the counter sees the logging step's reads (losses, checkpoint)


def test_the_ssim_window_is_copied_to_a_device_once(monkeypatch):
    """Before: made on the CPU and copied at every call (every step of an SSIM loss)."""
    import torch

    from i2i.image_metrics import ssim_maps

    copies = copies_to_other_devices(monkeypatch)
    x = torch.empty(2, 1, 32, 32, device="meta")
    for _ in range(3):
        ssim_maps(x, x, 2.0, window=9)
    assert copies == [(9,)]


def test_perceptual_normalisation_is_copied_to_a_device_once(monkeypatch):
    """Before: ImageNet mean and std copied to the device at every call (4 per step)."""
    import torch
    from i2i_plugins.losses.perceptual import Perceptual
    from torch import nn

    loss = Perceptual.__new__(Perceptual)  # a stand-in network instead of VGG weights from a file
    loss.layers, loss.net = {0: 1.0}, nn.Sequential(nn.Conv2d(3, 4, 3)).to("meta")
    loss.mean, loss.std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.ones(1, 3, 1, 1)
    loss._normalisation = {}
    copies = copies_to_other_devices(monkeypatch)
    x = torch.empty(1, 3, 16, 16, device="meta")
    for _ in range(3):
        loss.features(x)
    assert copies == [(1, 3, 1, 1), (1, 3, 1, 1)]


def test_evaluation_seeds_are_read_from_the_host():
    """Before: each image's index was copied to the device and read back one value at a time
    (a host synchronisation per image of every evaluation batch). The meta device stands in for
    a GPU: its values cannot be read at all."""
    import torch

    from i2i.data.geometry import PairGeometry
    from i2i.data.pair_random import SEEDS_KEY, image_seed
    from i2i.data.pipeline import BatchPipeline
    from i2i.plugins import get_plugins

    task = get_plugins()["tasks"].build("paired", {})
    seen = {}

    def make_pair(batch, train):
        seen.update(batch)
        return batch["input"], batch["target"]

    task.make_pair = make_pair
    pipeline = BatchPipeline(task, PairGeometry("none", 32, flip=False), torch.device("meta"), seed=4)
    raw = {"input": torch.rand(2, 3, 8, 8), "target": torch.rand(2, 3, 8, 8), "index": torch.tensor([5, 9])}
    x, _ = pipeline(raw, train=False)
    assert x.device.type == "meta"
    assert seen[SEEDS_KEY] == [image_seed(4, 5), image_seed(4, 9)]


def test_evaluation_metrics_come_to_the_host_in_one_copy():
    """Before: ``i2i eval`` read every image's every metric from the device on its own."""
    import torch

    from i2i.evaluation.measure import on_host

    copies = []

    class OnDevice(torch.Tensor):  # a tensor that says it lives on a GPU and counts its copies to the CPU
        @property
        def device(self):
            return torch.device("cuda", 0)

        def cpu(self):
            copies.append(tuple(self.shape))
            return self.as_subclass(torch.Tensor)

    psnr, ssim = torch.tensor([30.0, 31.0]), torch.tensor([0.9, 0.8], dtype=torch.float64)
    metrics = {"model": {"psnr": psnr.as_subclass(OnDevice), "ssim": ssim.as_subclass(OnDevice)},
               "input": {"psnr": psnr.as_subclass(OnDevice)}}
    host = on_host(metrics)
    assert copies == [(3, 2)]
    assert torch.equal(host["model"]["psnr"], psnr.double()) and torch.equal(host["model"]["ssim"], ssim)
    assert type(host["input"]["psnr"]) is torch.Tensor
    cpu = {"model": {"psnr": psnr}}
    assert on_host(cpu) is cpu  # CPU values are left as they are
