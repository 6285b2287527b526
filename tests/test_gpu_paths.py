"""CUDA code paths exercised on the CPU: a compiled discriminator with WGAN-GP, SyncBatchNorm
with a gradient penalty refused, export checks in full float32 and TorchScript graphs free of
device constants, evaluation generators on the batch's device, a bounded LOCAL_RANK, and the
Python ``predict`` with tensors on another device than its tiling indices."""

from __future__ import annotations

import pytest
import torch

from tests.host_reads import copies_to_other_devices


def test_a_compiled_discriminator_trains_with_wgangp():
    """Before: "torch.compile with aot_autograd does not currently support double backward" at
    the first D step (aot_eager: inductor's aot_autograd path, without compiling C++)."""
    from torch import nn

    from i2i.assembly.components import LossTerm
    from i2i.engine.gan_step import DiscriminatorObjective, GANStep
    from i2i.engine.precision import Precision
    from i2i_plugins.losses.adversarial import WGANGP
    from i2i_plugins.losses.reconstruction import L1

    torch.manual_seed(0)
    generator, d = nn.Conv2d(1, 1, 3, padding=1), nn.Sequential(nn.Conv2d(2, 4, 3), nn.LeakyReLU(0.2),
                                                                nn.Conv2d(4, 1, 3))
    terms = [LossTerm("gan", 1.0, WGANGP()), LossTerm("l1", 100.0, L1())]
    objective = DiscriminatorObjective(torch.compile(d, backend="aot_eager"), terms[0])
    step = GANStep(generator, objective, torch.optim.Adam(generator.parameters()), torch.optim.Adam(d.parameters()),
                   terms, Precision("fp32", torch.device("cpu")))
    weights = [d[0].weight, d[2].weight]  # (the last bias has no gradient under the WGAN loss)
    before = [w.detach().clone() for w in weights]
    logs = step([(torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16))])
    assert torch.isfinite(logs["loss_d_penalty"]) and logs["loss_d_penalty"] > 0
    assert all(not torch.equal(a, b) for a, b in zip(before, weights))  # D stepped


def test_sync_batchnorm_with_a_penalty_and_batch_norm_d_is_refused_at_recipe_check(tiny_recipe):
    from i2i.errors import RecipeError
    from i2i.recipe import load_recipe

    with pytest.raises(RecipeError) as caught:
        load_recipe(tiny_recipe, ["train.sync_batchnorm=true", 'losses.gan.name="wgangp"'])
    message = str(caught.value)
    assert "train.sync_batchnorm" in message and "losses.gan ('wgangp'" in message and "pytorch#61222" in message
    assert 'discriminator.norm = "instance" or "none"' in message
    # the same run without any of the three parts is fine
    load_recipe(tiny_recipe, ["train.sync_batchnorm=true", 'losses.gan.name="wgangp"', 'discriminator.norm="instance"'])
    load_recipe(tiny_recipe, ["train.sync_batchnorm=true", 'losses.gan.name="lsgan"'])
    load_recipe(tiny_recipe, ['losses.gan.name="wgangp"'])


def test_recipe_check_names_the_sync_batchnorm_combination(tiny_recipe, cli):
    result = cli("recipe", "check", tiny_recipe, "--set", "train.sync_batchnorm=true",
                 "--set", 'losses.gan.name="wgangp"')
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "train.sync_batchnorm: true with losses.gan" in result.output
    assert "double backward through SyncBatchNorm" in result.output


@pytest.fixture(scope="module")
def ct_run(tmp_path_factory):
    from tests.test_predict import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("ct") / "run", cin=1, cout=1, depth=4,
                           sets=('task.name="ct_sparse_view"',))


def test_export_compares_in_full_fp32(ct_run, tmp_path, monkeypatch):
    """Before: the reference ran with TF32 convolutions on CUDA (torch's default there): 1e-3
    relative from the CPU, so ``export --device cuda`` wrote nothing."""
    from i2i.inference import export
    from i2i.inference.model import load_model

    model = load_model(ct_run, "cpu")
    seen: list[tuple[str, str]] = []

    def spy(module, args):
        seen.append((torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision))

    model.generator.register_forward_pre_hook(spy)
    before = (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision)
    export.export_generator(model, "torchscript", tmp_path / "ct.pt")
    assert seen and set(seen) == {("ieee", "ieee")}
    assert (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision) == before


def test_torchscript_ct_graph_holds_no_device_constant(ct_run, tmp_path):
    """Before: the field-of-view mask's ``torch.arange(device=...)`` baked the tracing device
    (``cuda:0`` for ``export --device cuda``) into the graph."""
    from i2i.inference import export
    from i2i.inference.model import load_model

    out = tmp_path / "ct.pt"
    export.export_generator(load_model(ct_run, "cpu"), "torchscript", out)
    graph = str(torch.jit.load(str(out)).inlined_graph)
    assert "Device = prim::Constant" not in graph
    assert "aten::masked_fill" in graph  # the mask is in the graph


def test_field_of_view_from_the_image_equals_the_sized_mask():
    from i2i.medical.fov import fov_mask, fov_mask_of

    for h, w in [(16, 16), (17, 17), (16, 12), (12, 16), (15, 9), (1, 5), (96, 56)]:
        assert torch.equal(fov_mask_of(torch.zeros(2, 1, h, w)), fov_mask(h, w))
        assert torch.equal(fov_mask_of(torch.zeros(h, w)), fov_mask(h, w))


def test_evaluation_generators_live_on_the_batch_device(monkeypatch):
    """Before: ``generator(i)`` was a CPU generator for a CUDA batch; ``torch.randn(...,
    device=cuda, generator=cpu_generator)`` fails at the first validation pass."""
    from i2i.data.pair_random import PairRandom, image_seed

    seeds = [image_seed(3, i) for i in range(2)]
    on_cpu = PairRandom(2, "cpu", seeds)
    assert on_cpu.generator(0) is on_cpu._generators[0]  # the CPU keeps the image's own generator

    made: list[object] = []

    class Recording:  # stands in for torch.Generator (no CUDA here)
        def __init__(self, device="cpu"):
            made.append(str(torch.device(device)))

        def manual_seed(self, seed):
            made.append(int(seed))
            return self

    monkeypatch.setattr(torch, "Generator", Recording)
    random = PairRandom(2, "cuda", seeds)
    made.clear()
    assert random.generator(1) is random.generator(1)  # one per image, made once
    assert made == ["cuda", seeds[1]]


def test_per_image_draws_are_the_same_numbers_on_any_device():
    from i2i.data.pair_random import PairRandom

    a, b = PairRandom(2, "cpu", [5, 6]), PairRandom(2, "meta", [5, 6])
    assert b.normal((3,)).device.type == "meta"
    assert torch.equal(a.normal((3,)), PairRandom(2, "cpu", [5, 6]).normal((3,)))


def test_training_draws_are_made_on_the_device(monkeypatch):
    """Before: made on the CPU and copied to the device (a host sync per draw on CUDA; 11-160 ms
    per step for restoration noise at full size)."""
    from i2i.data.geometry import PairGeometry
    from i2i.data.pair_random import PairRandom

    copies = copies_to_other_devices(monkeypatch)
    random = PairRandom(2, "meta")
    assert random.normal((3, 8, 8)).device.type == "meta" and random.uniform(0, 1).device.type == "meta"
    assert random.randint(0, 4).device.type == "meta"
    geometry = PairGeometry("crop", 8, flip=True, vflip=True, rot90=True)
    out = geometry({"target": torch.empty(2, 1, 12, 12, device="meta")}, train=True)
    assert out["target"].shape == (2, 1, 8, 8)
    assert copies == []


def test_training_draws_on_the_cpu_are_unchanged():
    """The same numbers as the CPU global stream gave before (checkpoints and CPU runs unchanged)."""
    from i2i.data.pair_random import PairRandom

    torch.manual_seed(7)
    got = PairRandom(2, "cpu").normal((3,))
    torch.manual_seed(7)
    assert torch.equal(got, torch.randn(2, 3))


@pytest.mark.parametrize("local, devices", [(2, 2), (-1, 2), (0, 0)])
def test_local_rank_beyond_the_visible_gpus_is_a_usage_error(monkeypatch, local, devices):
    from i2i.engine import distributed
    from i2i.errors import UsageError

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", str(local))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: devices)
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: pytest.fail(f"set_device({i}) was called"))
    with pytest.raises(UsageError, match=f"LOCAL_RANK={local}: this process sees"):
        distributed.init_distributed(torch.device("cuda"))


def test_tiles_and_channel_conversion_follow_the_image_device(monkeypatch):
    """Before: CPU tiling indices and CPU channel weights for a CUDA image (the Python
    ``predict`` failed on CUDA tensors). The meta device stands in for CUDA; its index_select
    accepts indices anywhere, so the devices are checked here as CUDA checks them."""
    from i2i.inference.predict import convert_channels
    from i2i.inference.tiling import TilePlan

    index_select = torch.Tensor.index_select

    def strict(self, dim, index):
        assert index.device == self.device, f"indices on {index.device} for a tensor on {self.device}"
        return index_select(self, dim, index)

    monkeypatch.setattr(torch.Tensor, "index_select", strict)
    image = torch.empty(3, 100, 90, device="meta")
    plan = TilePlan(100, 90, 64, 16, align=16)
    assert all(plan.crop(image, box).shape[-2:] == (64, 64) for box in plan.boxes())
    assert convert_channels(image, 1).shape == (1, 100, 90)


def test_python_predict_returns_on_the_input_device(tmp_path):
    import i2i
    from tests.test_predict import make_checkpoint

    model = i2i.load_model(make_checkpoint(tmp_path / "run", cin=1, cout=1, depth=4), "cpu")
    out = i2i.predict(model, torch.rand(1, 40, 36), tile=0)
    assert out.shape == (1, 40, 36) and out.device.type == "cpu"


def test_data_workers_auto_is_zero_on_cpu_and_shares_the_cpus_on_cuda(monkeypatch):
    import os

    from i2i.engine.training_data import MAX_AUTO_WORKERS, loader_workers

    assert loader_workers("auto", torch.device("cpu")) == 0  # CPU runs decode in the main process, as before
    assert loader_workers(3, torch.device("cpu")) == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert loader_workers("auto", torch.device("cuda", 0)) == MAX_AUTO_WORKERS
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert loader_workers("auto", torch.device("cuda", 0)) == 3  # 16 CPUs / 4 processes, one left to train
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert loader_workers("auto", torch.device("cuda", 0)) == 0


def test_data_workers_default_is_auto_and_left_out_of_digests(tiny_recipe):
    from i2i.recipe import load_recipe

    recipe = load_recipe(tiny_recipe)
    assert recipe.data.num_workers == "auto"
    assert recipe.digest() == load_recipe(tiny_recipe, ["data.num_workers=0"]).digest()


def test_channels_last_auto_stays_off_with_instance_norm():
    """InstanceNorm returns NCHW whatever its input: channels-last would flip the layout at
    every norm layer, so ``auto`` leaves it off for such networks."""
    from types import SimpleNamespace

    from torch import nn

    from i2i.engine.parts import uses_channels_last

    x = torch.rand(2, 4, 8, 8).contiguous(memory_format=torch.channels_last)
    assert not nn.InstanceNorm2d(4)(x).is_contiguous(memory_format=torch.channels_last)  # the flip itself

    def recipe(mode):
        return SimpleNamespace(train=SimpleNamespace(channels_last=mode))

    cuda, cpu = torch.device("cuda", 0), torch.device("cpu")
    batch_norm = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    instance_norm = nn.Sequential(nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4))
    assert uses_channels_last(recipe("auto"), cuda, (batch_norm, None))
    assert not uses_channels_last(recipe("auto"), cuda, (batch_norm, instance_norm))
    assert not uses_channels_last(recipe("auto"), cpu, (batch_norm,))
    assert uses_channels_last(recipe("on"), cpu, (instance_norm,))
