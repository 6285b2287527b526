"""Fine-tuning (``train.init_from`` / ``i2i run --init-from``): a new run starts from an i2i
checkpoint or a reference pytorch-CycleGAN-and-pix2pix ``latest_net_G.pth``, with fresh
optimisers; misfits name the tensor; a pickle payload is never executed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from i2i.runs.checkpoint import latest_checkpoint, read_metadata, read_tensors
from i2i.assembly.init_from import InitFromError, load_network, reference_state
from i2i.engine.trainer import Trainer
from i2i.plugins import get_plugins
from i2i.recipe import load_recipe
from tests.conftest import train_in_process, write_synthetic_pairs
from tests.test_networks import RefNLayerDiscriminator, RefResnetGenerator, RefUnetGenerator, ref_norm

#: The source run: long enough for the tiny U-Net to learn labels -> photo (about 2 s).
SOURCE_STEPS = ("train.steps=60", "train.log_every=10", "train.sample_every=1000", "train.checkpoint_every=1000",
                "optim.lr_g=0.002")


@pytest.fixture(scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, synthetic_pairs, one_thread) -> tuple[Path, Path]:
    """(recipe, run directory): the tiny recipe trained for 60 steps on the synthetic pairs."""
    from tests.conftest import TINY_RECIPE

    folder = tmp_path_factory.mktemp("finished")
    recipe = folder / "tiny.toml"
    recipe.write_text(TINY_RECIPE.format(root=synthetic_pairs.as_posix()))
    train_in_process(recipe, folder / "run", *SOURCE_STEPS)
    return recipe, folder / "run"


@pytest.fixture(scope="module")
def other_pairs(tmp_path_factory) -> Path:
    """Other scenes with the same labels -> photo mapping."""
    return write_synthetic_pairs(tmp_path_factory.mktemp("other_pairs"), count=8, seed=500)


def build(recipe: Path, out: Path, *sets: str, resume_from: Path | None = None) -> Trainer:
    resolved = load_recipe(recipe, [*sets, f'run.out="{out.as_posix()}"'], get_plugins())
    return Trainer(resolved, out, get_plugins(), torch.device("cpu"), resume_from=resume_from, show_progress=False)


def first_record(run: Path) -> dict:
    return json.loads((run / "metrics.jsonl").read_text().splitlines()[0])


def test_networks_start_from_the_checkpoint_and_the_rest_starts_fresh(finished_run, other_pairs, tmp_path, capfd):
    recipe, source = finished_run
    folder = latest_checkpoint(source / "checkpoints")
    trainer = build(recipe, tmp_path / "ft", f'data.root="{other_pairs.as_posix()}"', "optim.lr_g=0.0001",
                    "losses.l1.weight=50.0", "train.ema_decay=0.99", f'train.init_from="{source.as_posix()}"')
    for role, net in (("generator", trainer.generator), ("discriminator", trainer.discriminator)):
        saved = read_tensors(folder / f"{role}.safetensors")
        assert saved.keys() == net.state_dict().keys()
        assert all(torch.equal(saved[k], v) for k, v in net.state_dict().items()), role
    ema = trainer.ema.module.state_dict()
    assert all(torch.equal(ema[k], v) for k, v in trainer.generator.state_dict().items())
    assert trainer.step == 0 and trainer.opt_g.state_dict()["state"] == {} and trainer.opt_d.state_dict()["state"] == {}
    assert trainer.schedule.state_dict() == build(recipe, tmp_path / "fresh").schedule.state_dict()
    err = capfd.readouterr().err
    assert f"i2i: fine-tuning: generator from {folder / 'generator.safetensors'} (step 60), discriminator from" in err


def test_first_step_loss_is_far_below_training_from_scratch(finished_run, other_pairs, tmp_path):
    recipe, source = finished_run
    on_other = (f'data.root="{other_pairs.as_posix()}"', "train.steps=1")
    train_in_process(recipe, tmp_path / "scratch", *on_other)
    train_in_process(recipe, tmp_path / "ft", *on_other, f'train.init_from="{source.as_posix()}"')
    scratch, tuned = first_record(tmp_path / "scratch")["loss_g_l1"], first_record(tmp_path / "ft")["loss_g_l1"]
    assert tuned < 0.5 * scratch, (tuned, scratch)


def test_cli_records_the_source_and_refuses_it_with_resume(cli, finished_run, other_pairs, tmp_path):
    recipe, source = finished_run
    out = tmp_path / "ft"
    result = cli("run", recipe, "--init-from", source, "--out", out, "--quiet", "--set", "train.steps=2",
                 "--set", f'data.root="{other_pairs.as_posix()}"', "--set", "train.final_eval=false")
    assert result.exit_code == 0, result.output
    assert "i2i: fine-tuning: generator from" in result.stderr
    record = json.loads(read_metadata(latest_checkpoint(out / "checkpoints") / "generator.safetensors")["init_from"])
    assert record == {"given": str(source), "layout": "i2i", "step": 60,
                      "generator": str((latest_checkpoint(source / "checkpoints") / "generator.safetensors").resolve()),
                      "discriminator": str((latest_checkpoint(source / "checkpoints")
                                            / "discriminator.safetensors").resolve())}
    assert f'init_from = "{source}"' in (out / "recipe.toml").read_text()
    refused = cli("run", "--resume", out, "--init-from", source)
    assert refused.exit_code == 2
    assert "--init-from" in refused.stderr and "a resumed run continues from its own checkpoint" in refused.stderr


def test_a_fine_tuned_run_resumes_without_its_source(finished_run, other_pairs, tmp_path):
    recipe, source = finished_run
    copy = tmp_path / "source"
    shutil.copytree(source, copy)
    sets = (f'data.root="{other_pairs.as_posix()}"', f'train.init_from="{copy.as_posix()}"')
    out = tmp_path / "ft"
    train_in_process(recipe, out, *sets, "train.steps=2")
    shutil.rmtree(copy)
    trainer = train_in_process(recipe, out, *sets, "train.steps=4", resume=True)
    assert trainer.step == 4
    meta = read_metadata(latest_checkpoint(out / "checkpoints") / "generator.safetensors")
    assert json.loads(meta["init_from"])["given"] == copy.as_posix()


def test_a_shape_mismatch_names_the_tensor_and_the_checkpoints_options(finished_run, tmp_path):
    recipe, source = finished_run
    with pytest.raises(InitFromError) as err:
        build(recipe, tmp_path / "ft", "generator.ngf=8", f'train.init_from="{source.as_posix()}"')
    message = str(err.value)
    assert "train.init_from: " in message and "does not fit this recipe's generator" in message
    assert "model.model.0.weight: expected shape (8, 3, 4, 4), the file has (4, 3, 4, 4)" in message
    assert message.endswith("the checkpoint's network was built otherwise: generator.ngf = 4 there, 8 here")
    assert err.value.exit_code == 2


def test_cli_names_a_missing_source(cli, tiny_recipe, tmp_path):
    result = cli("run", tiny_recipe, "--init-from", tmp_path / "nowhere", "--out", tmp_path / "ft", "--quiet")
    assert result.exit_code == 2
    assert f"error: train.init_from: {tmp_path / 'nowhere'}: no such checkpoint, run directory or file" in result.stderr


# ---- the reference's checkpoints ----------------------------------------------------------


def reference_checkpoint(folder: Path) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``latest_net_G.pth`` / ``latest_net_D.pth`` as the reference saves them
    (``torch.save(net.state_dict())``) for the tiny recipe's networks."""
    torch.manual_seed(3)
    g = RefUnetGenerator(3, 3, 6, 4, ref_norm("batch"), use_dropout=True)
    d = RefNLayerDiscriminator(6, 4, 2, ref_norm("batch"))
    for net in (g, d):  # non-default statistics, so that buffers are checked too
        for name, buffer in net.named_buffers():
            if name.endswith("running_mean"):
                buffer.uniform_(-0.1, 0.1)
    folder.mkdir()
    torch.save(g.state_dict(), folder / "latest_net_G.pth")
    torch.save(d.state_dict(), folder / "latest_net_D.pth")
    return g, d


def test_a_reference_checkpoint_loads_with_its_keys_mapped(tiny_recipe, tmp_path):
    g, d = reference_checkpoint(tmp_path / "facades_pix2pix")
    trainer = build(tiny_recipe, tmp_path / "ft", f'train.init_from="{(tmp_path / "facades_pix2pix").as_posix()}"')
    assert trainer.init_source.layout == "reference"
    assert trainer.init_source.discriminator == tmp_path / "facades_pix2pix" / "latest_net_D.pth"
    for ref, ours in ((g, trainer.generator), (d, trainer.discriminator)):
        want = ref.state_dict()
        assert all(torch.equal(want[k], v) for k, v in ours.state_dict().items())
    g.eval(), trainer.generator.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(trainer.generator(x), g(x), rtol=0, atol=0)


def test_a_reference_generator_without_its_discriminator(tiny_recipe, tmp_path, capfd):
    reference_checkpoint(tmp_path / "ref")
    (tmp_path / "ref" / "latest_net_D.pth").unlink()
    trainer = build(tiny_recipe, tmp_path / "ft", f'train.init_from="{(tmp_path / "ref" / "latest_net_G.pth").as_posix()}"')
    assert trainer.init_source.discriminator is None
    assert "the discriminator starts from its initialisation (the checkpoint has none)" in capfd.readouterr().err


def test_reference_layout_variants_are_mapped():
    """Dropout layers shift the indices of a ResNet block's second convolution; legacy
    InstanceNorm files hold statistics the layers do not keep; DataParallel adds module."""
    from i2i.plugins import get_plugins

    ref = RefResnetGenerator(3, 3, 4, ref_norm("instance"), use_dropout=True, n_blocks=2)
    ours = get_plugins()["generators"].build("resnet", {"blocks": 2, "ngf": 4, "norm": "instance", "dropout": 0.0},
                                             in_channels=3, out_channels=3)
    given = dict(ref.state_dict())
    assert "model.10.conv_block.6.weight" in given and "model.10.conv_block.5.weight" in ours.state_dict()
    given["model.2.running_mean"] = torch.zeros(4)  # InstanceNorm statistics from PyTorch < 0.4
    mapped = reference_state(given, ours.state_dict())
    assert torch.equal(mapped["model.10.conv_block.5.weight"], given["model.10.conv_block.6.weight"])
    ours.load_state_dict(mapped)
    ref.eval(), ours.eval()
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)


def test_reference_missing_and_unexpected_tensors_are_named(tmp_path):
    from i2i.plugins import get_plugins

    net = get_plugins()["discriminators"].build("patchgan", {"ndf": 4, "n_layers": 2}, in_channels=6)
    state = dict(RefNLayerDiscriminator(6, 4, 2, ref_norm("batch")).state_dict())
    del state["model.2.weight"]
    state["model.9.weight"] = torch.zeros(2, 2)
    torch.save({"module." + k: v for k, v in state.items()}, tmp_path / "latest_net_D.pth")
    with pytest.raises(InitFromError) as err:
        load_network(net, tmp_path / "latest_net_D.pth", "discriminator", "reference")
    message = str(err.value)
    assert "model.2.weight: missing from the file (expected shape (8, 4, 4, 4))" in message
    assert "model.9.weight: in the file (shape (2, 2)) but not in the network" in message
    assert "model.0.weight" not in message  # the module. prefix was removed


class Payload:
    """Pickled, this object would create ``marker`` when loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def test_a_pickle_payload_is_never_executed(tiny_recipe, tmp_path):
    marker = tmp_path / "payload-ran"
    state = dict(RefUnetGenerator(3, 3, 6, 4, ref_norm("batch"), use_dropout=True).state_dict())
    torch.save({**state, "extra": Payload(marker)}, tmp_path / "latest_net_G.pth")
    with pytest.raises(InitFromError, match=r"weights_only=True"):
        build(tiny_recipe, tmp_path / "ft", f'train.init_from="{(tmp_path / "latest_net_G.pth").as_posix()}"')
    assert not marker.exists()
    assert f"{os.mkdir.__module__} mkdir" in pickled_globals(tmp_path / "latest_net_G.pth")  # the payload is real


def pickled_globals(path: Path) -> set[str]:
    """The ``module name`` globals a ``torch.save`` file's pickle would import and call when
    loaded, read from its opcodes without unpickling anything."""
    import io
    import pickletools
    import zipfile

    with zipfile.ZipFile(path) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    return {str(arg) for op, arg, _ in pickletools.genops(io.BytesIO(data)) if op.name == "GLOBAL"}


def test_other_channel_counts_are_named_when_the_options_agree(finished_run):
    _, source = finished_run
    weights = latest_checkpoint(source / "checkpoints") / "generator.safetensors"
    options = json.loads(read_metadata(weights)["recipe"])["generator"]
    net = get_plugins()["generators"].build("unet", {k: v for k, v in options.items() if k != "name"},
                                            in_channels=1, out_channels=3)
    with pytest.raises(InitFromError) as err:
        load_network(net, weights, "generator", "i2i", options)
    assert "model.model.0.weight: expected shape (4, 1, 4, 4), the file has (4, 3, 4, 4)" in str(err.value)
    assert str(err.value).endswith("the network options agree, so the channels differ: the checkpoint's task "
                                   "has 3 input and 3 output channel(s)")
