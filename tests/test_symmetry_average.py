"""``augment.test_time``: in eval mode the generator averages over the input and the flips and
quarter turns training used; training, the weights and every inference path are otherwise
unchanged."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from tests.test_predict import make_checkpoint

D4 = [(k, m) for m in (False, True) for k in range(4)]


def test_the_transforms_are_the_group_the_training_augmentations_generate():
    from i2i.nn.symmetry_average import apply, symmetries, turn, undo

    assert symmetries(True, False, False) == ((0, True),)
    assert symmetries(False, True, False) == ((2, True),)
    assert symmetries(True, True, False) == ((0, True), (2, True), (2, False))
    assert symmetries(False, False, True) == ((1, False), (2, False), (3, False))
    assert len(symmetries(True, False, True)) == len(symmetries(False, True, True)) == 7
    assert symmetries(False, False, False) == ()
    x = torch.arange(12.0).view(1, 1, 3, 4)
    for k in range(-4, 5):
        assert torch.equal(turn(x, k), torch.rot90(x, k, (-2, -1))), k
    assert torch.equal(apply(x, (0, True)), x.flip(-1))
    assert torch.equal(apply(x, (2, True)), x.flip(-2))  # vflip: a half turn, then a left-right mirror
    assert torch.equal(apply(x, (2, False)), x.flip(-2, -1))
    for t in D4:
        assert torch.equal(undo(apply(x, t), t), x), t
    # closed under composition: each enabled augmentation maps the set (with the identity) to itself
    for flags in [(True, False, False), (False, True, False), (True, True, False), (False, False, True),
                  (True, False, True)]:
        group = {(0, False), *symmetries(*flags)}
        images = {t: apply(x, t) for t in group}
        for t in group:
            for s in group:
                composed = apply(images[t], s)
                assert any(torch.equal(composed, image) for image in images.values()), (flags, t, s)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tta")
    return (make_checkpoint(root / "plain", cin=1, cout=1, depth=3),
            make_checkpoint(root / "flips", cin=1, cout=1, depth=3,
                            sets=("augment.test_time=true", "augment.vflip=true")),
            make_checkpoint(root / "d4", cin=1, cout=1, depth=3,
                            sets=("augment.test_time=true", "augment.rot90=true")))


def test_eval_output_is_the_mean_over_the_transforms(runs):
    from i2i.inference.model import load_model
    from i2i.nn.symmetry_average import apply, averaged_symmetries

    plain, flips, d4 = (load_model(run) for run in runs)
    assert averaged_symmetries(plain.generator) == ()
    assert averaged_symmetries(flips.generator) == ((0, True), (2, True), (2, False))
    assert len(averaged_symmetries(d4.generator)) == 7
    # eval.json's protocol says how outputs were made
    from i2i.evaluation.options import EvalOptions
    from i2i.evaluation.summary import averaging_protocol
    assert averaging_protocol(plain, EvalOptions()) == "one pass of the generator per image"
    assert averaging_protocol(d4, EvalOptions()).startswith("per image, the mean of 8 passes: the input and its 7 ")
    assert averaging_protocol(d4, EvalOptions(train_mode=True)) == "one pass of the generator per image"
    # the EMA copy (a deepcopy of the generator) averages too
    assert averaged_symmetries(copy.deepcopy(flips.generator)) == averaged_symmetries(flips.generator)
    # the same weights under the same names: the hook adds no parameter or buffer
    assert plain.generator.state_dict().keys() == flips.generator.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(plain.generator.state_dict().values(),
                                                 flips.generator.state_dict().values()))
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    net = plain.generator
    with torch.no_grad():
        expected = sum(net(x.flip(axes)).flip(axes) for axes in [(), (-1,), (-2,), (-1, -2)]) / 4
        got = flips.generator(x)
        assert (got - expected).abs().max() < 1e-6
        assert (got - net(x)).abs().max() > 1e-3  # the averaging changes the output of an untrained net
        # the average over a group is equivariant under it, as the plain network is not
        assert (flips.generator(x.flip(-2)) - got.flip(-2)).abs().max() < 1e-5
        assert (net(x.flip(-2)) - net(x).flip(-2)).abs().max() > 1e-3
        turned = d4.generator(x)
        for t in [(1, False), (3, True)]:
            assert (d4.generator(apply(x, t)) - apply(turned, t)).abs().max() < 1e-5, t


def test_predict_says_it_averages(runs, tmp_path, cli):
    from PIL import Image

    Image.fromarray((torch.rand(48, 40).numpy() * 255).astype("uint8")).save(tmp_path / "in.png")
    said = {}
    for name, run in zip(("plain", "d4"), (runs[0], runs[2])):
        result = cli("predict", run, tmp_path / "in.png", "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
        said[name] = next(line for line in result.output.splitlines() if line.startswith("predicting"))
    assert "passes" not in said["plain"]
    assert said["d4"].endswith("; each output is the mean of 8 passes: the input and its 7 flips and turns that "
                               "training used, each output turned back (augment.test_time)")


def test_train_mode_runs_the_network_once(runs):
    from i2i.inference.model import load_model

    model = load_model(runs[2])
    calls = []
    handle = model.generator.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape))
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        model.generator.train()
        model.generator(x)
        assert len(calls) == 1
        model.generator.eval()
        model.generator(x)
        assert len(calls) == 1 + 8
    handle.remove()


def test_non_square_inputs_and_the_exported_graphs(runs, tmp_path, cli):
    """Quarter turns of a non-square image go through the network turned; the exported
    TorchScript and ONNX graphs trace the hook and give the averaged output."""
    from i2i.inference.model import load_model
    from i2i.nn.sizing import forward_any_size

    model = load_model(runs[2])
    x = torch.rand(1, 1, 40, 56, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        expected = forward_any_size(model.generator, x)
        assert expected.shape == x.shape
    ts = tmp_path / "g.pt"
    result = cli("export", runs[2], "--format", "torchscript", "--io", "network", "--out", ts)
    assert result.exit_code == 0, result.output
    with torch.no_grad():
        assert (torch.jit.load(str(ts))(x) - expected).abs().max() < 1e-4
    ort = pytest.importorskip("onnxruntime")
    onnx_file = tmp_path / "g.onnx"
    result = cli("export", runs[2], "--format", "onnx", "--io", "network", "--out", onnx_file)
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    assert abs(session.run(None, {"input": x.numpy()})[0] - expected.numpy()).max() < 1e-4


def test_training_is_unchanged_and_validation_scores_the_average(tiny_recipe, tmp_path):
    from tests.conftest import train_in_process

    common = ("train.steps=4", "train.val_every=4", "train.log_every=1", "augment.vflip=true",
              "data.val_fraction=0.25")
    train_in_process(tiny_recipe, tmp_path / "a", *common)
    train_in_process(tiny_recipe, tmp_path / "b", *common, "augment.test_time=true")
    rows = [[json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
            for run in ("a", "b")]
    losses = [[r["loss_g"] for r in run if "loss_g" in r] for run in rows]
    assert len(losses[0]) == 4 and losses[0] == losses[1]
    vals = [[r for r in run if "val_psnr" in r][-1]["val_psnr"] for run in rows]
    assert vals[0] != vals[1]


def test_test_time_without_a_training_transform_is_refused(tiny_recipe, cli):
    result = cli("recipe", "check", tiny_recipe, "--set", "augment.test_time=true", "--set", "augment.flip=false")
    assert result.exit_code != 0
    assert "augment.test_time" in result.output and "augment.rot90" in result.output
    assert "Traceback" not in result.output
