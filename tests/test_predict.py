"""``i2i predict``: any size, tiles that agree with untiled prediction, bounded memory,
bit depths, channel checks, EMA weights."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

CHECKPOINT_RECIPE = """
[task]
name = "paired"
in_channels = {cin}
out_channels = {cout}

[data]
source = "aligned"
root = "{root}"
crop_size = 32
load_size = 40

[generator]
name = "unet"
depth = {depth}
ngf = 4
residual = {residual}
init = "kaiming"
init_gain = 1.0

[train]
steps = 1
"""


def make_checkpoint(folder: Path, cin: int = 3, cout: int = 3, depth: int = 5, ema: bool = False,
                    seed: int = 0, root: str = "/nonexistent", sets: tuple[str, ...] = ()) -> Path:
    """A run directory with one checkpoint of an untrained (Kaiming-initialised, so its
    outputs have structure) generator, written as the trainer writes them; no training."""
    from safetensors.torch import save_file

    from i2i import __version__
    from i2i.assembly import components as B
    from i2i.plugins import get_plugins
    from i2i.recipe import load_recipe
    from i2i.runs.rundir import create_run_dir, write_recipe

    plugins = get_plugins()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "source.toml"
    residual = "true" if cin == cout else "false"
    path.write_text(CHECKPOINT_RECIPE.format(cin=cin, cout=cout, root=root, depth=depth, residual=residual))
    recipe = load_recipe(path, [*sets, f'run.out="{folder.as_posix()}"'], plugins)
    write_recipe(recipe, create_run_dir(folder))
    task = B.build_task(plugins, recipe)
    torch.manual_seed(seed)
    step = folder / "checkpoints" / "step_00000001"
    step.mkdir(parents=True)
    roles = {"generator": B.build_generator(plugins, recipe, task)}
    if ema:
        torch.manual_seed(seed + 1)
        roles["generator_ema"] = B.build_generator(plugins, recipe, task)
    for role, net in roles.items():
        meta = {"format": "i2i.weights.v1", "role": role, "component": recipe.generator.name,
                "i2i_version": __version__, "recipe_digest": recipe.digest(), "step": "1",
                "in_channels": str(task.in_channels), "out_channels": str(task.out_channels),
                "recipe": json.dumps(recipe.as_dict())}
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, step / f"{role}.safetensors", meta)
    (step / "trainer.json").write_text(json.dumps({"format": "i2i.trainer.v1", "state": {}}))
    return folder


def smooth_image(h: int, w: int, channels: int = 3, seed: int = 0, dtype=torch.uint8) -> torch.Tensor:
    """A smooth random (C, H, W) image (compresses well, has structure at every scale)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, channels, max(2, h // 32), max(2, w // 32), generator=g)
    image = torch.nn.functional.interpolate(base, size=(h, w), mode="bicubic", align_corners=False)[0]
    image = (image + 0.05 * torch.rand(channels, h, w, generator=g)).clamp(0, 1)
    if dtype == torch.uint8:
        return (image * 255).round().to(torch.uint8)
    if dtype == torch.int32:
        return (image * 65535).round().to(torch.int32)
    return image.float()


def save(path: Path, image: torch.Tensor) -> Path:
    array = image.permute(1, 2, 0).numpy()
    if image.dtype == torch.int32:
        array = array.astype(np.uint16)
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(path)
    return path


@pytest.fixture(scope="module")
def rgb_run(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("rgb") / "run")


@pytest.fixture(scope="module")
def grey_run(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("grey") / "run", cin=1, cout=1)


def read(path: Path) -> np.ndarray:
    return np.array(Image.open(path))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    from i2i.image_metrics import psnr as _psnr

    return float(_psnr(a[None].float(), b[None].float(), 1.0))


# -- sizes, tiles, memory ---------------------------------------------------------------------

def test_any_size_keeps_the_size_and_format(rgb_run, tmp_path, cli):
    save(tmp_path / "wide.png", smooth_image(600, 1200))
    Image.fromarray(smooth_image(500, 300).permute(1, 2, 0).numpy()).save(tmp_path / "tall.jpg", quality=95)
    result = cli("predict", rgb_run, tmp_path / "wide.png", tmp_path / "tall.jpg", "--out", tmp_path / "out",
                 "--tile", "512", "--overlap", "128")
    assert result.exit_code == 0, result.output
    wide, tall = Image.open(tmp_path / "out" / "wide.png"), Image.open(tmp_path / "out" / "tall.jpg")
    assert (wide.size, wide.mode, wide.format) == ((1200, 600), "RGB", "PNG")
    assert (tall.size, tall.mode, tall.format) == ((300, 500), "RGB", "JPEG")


def test_tiled_and_untiled_agree(rgb_run):
    from i2i.inference.model import load_model
    from i2i.inference.predict import PredictOptions, Predictor

    model = load_model(rgb_run)
    image = smooth_image(512, 512, seed=3)
    whole = Predictor(model, PredictOptions(tile=0)).predict(image)
    tiled_predictor = Predictor(model, PredictOptions(tile=256, overlap=128, batch_size=3))
    assert len(tiled_predictor.plan(512, 512)) > 1
    tiled = tiled_predictor.predict(image)
    assert whole.std() > 0.1  # the model's output has structure: agreement means something
    assert psnr(tiled, whole) > 40
    assert psnr(whole, image.float() / 255) < 30  # and it is not the identity


def test_tile_plan_covers_every_pixel_with_unit_weight_and_the_padded_grid():
    from i2i.inference.tiling import TilePlan
    from i2i.nn.sizing import pad_to_multiple

    x = torch.arange(2 * 75 * 130, dtype=torch.float32).view(1, 2, 75, 130)
    for tile, overlap, align in [(32, 8, 8), (40, 16, 1), (16, 4, 32), (64, 16, 16)]:
        plan = TilePlan(75, 130, tile, overlap, align)
        padded, _ = pad_to_multiple(x, align)
        total = torch.zeros(plan.padded_h, plan.padded_w, dtype=torch.float64)
        for box in plan.boxes():
            rows, cols = box.slices()
            assert box.top % align == 0 and box.left % align == 0
            assert torch.equal(plan.crop(x, box), padded[..., rows, cols])
            total[rows, cols] += plan.weight(box, torch.float64)
        assert torch.allclose(total, torch.ones_like(total))


MEMORY_SCRIPT = textwrap.dedent("""
    import json, re, sys
    from pathlib import Path
    from i2i.inference.model import load_model
    from i2i.inference.files import InputFile, predict_files
    from i2i.inference.predict import PredictOptions

    def status(key):
        return int(re.search(key + r":\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024

    model = load_model(sys.argv[1])
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    before = status("VmRSS")
    predict_files(model, [InputFile(Path(sys.argv[2]), Path("out.png"))], Path(sys.argv[3]),
                  PredictOptions(tile=int(sys.argv[4]), overlap=128, batch_size=1))
    print(json.dumps({"before_mib": before, "peak_mib": status("VmHWM")}))
""")


@pytest.mark.slow
def test_large_image_tiled_needs_far_less_memory(rgb_run, tmp_path):
    """Peak resident memory of a fresh process predicting a 4096 x 4096 image (Linux
    VmHWM, reset after loading the model), above what it held then: tiled vs untiled.
    (ru_maxrss would not do: a child inherits the forking test process's peak.)"""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc/self/status and clear_refs to measure peak memory")
    big = save(tmp_path / "big.png", smooth_image(4096, 4096))
    extra = {}
    for tile in (1024, 0):
        proc = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(rgb_run), str(big), str(tmp_path / f"o{tile}"),
                               str(tile)], capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert proc.returncode == 0, proc.stderr
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        extra[tile] = stats["peak_mib"] - stats["before_mib"]
        assert Image.open(tmp_path / f"o{tile}" / "out.png").size == (4096, 4096)
    print(f"extra peak RSS for 4096x4096: tiled {extra[1024]:.0f} MiB, untiled {extra[0]:.0f} MiB")
    assert extra[1024] < 0.6 * extra[0], extra
    tiled = torch.from_numpy(read(tmp_path / "o1024" / "out.png")).float() / 255
    untiled = torch.from_numpy(read(tmp_path / "o0" / "out.png")).float() / 255
    assert psnr(tiled.permute(2, 0, 1), untiled.permute(2, 0, 1)) > 40


# -- bit depths and formats ------------------------------------------------------------------------

def test_16_bit_in_gives_16_bit_out(grey_run, tmp_path, cli):
    image = smooth_image(70, 90, channels=1, dtype=torch.int32)
    save(tmp_path / "a.png", image)
    save(tmp_path / "b.tif", image)
    np.save(tmp_path / "c.npy", image[0].numpy().astype(np.float32) / 65535)
    result = cli("predict", grey_run, tmp_path / "a.png", tmp_path / "b.tif", tmp_path / "c.npy",
                 "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    for name in ("a.png", "b.tif"):
        out = Image.open(tmp_path / "out" / name)
        assert out.mode.startswith("I;16") and out.size == (90, 70), (name, out.mode)
        values = read(tmp_path / "out" / name)
        assert values.dtype == np.uint16 and np.any(values % 257 != 0)  # real 16-bit values, not 8-bit scaled
    array = np.load(tmp_path / "out" / "c.npy")
    assert array.dtype == np.float32 and array.shape == (70, 90)
    png = read(tmp_path / "out" / "a.png").astype(np.float64) / 65535
    assert np.abs(array - png).max() < 1e-4  # the same prediction at both depths


def test_16_bit_and_float_colour_come_back_at_their_depth(rgb_run, tmp_path, cli):
    """16-bit RGB PNG and TIFF and float32 RGB TIFF inputs give outputs of the same depth and
    channels (read here by libpng and tifffile directly); the three carry the same values,
    so the outputs are one prediction at three depths; a float output is read back."""
    import imagecodecs
    import tifffile

    from i2i.data import read_image, write_image

    image = smooth_image(48, 40, dtype=torch.int32)
    write_image(tmp_path / "a.png", image)
    write_image(tmp_path / "b.tif", image)
    tifffile.imwrite(tmp_path / "c.tif", (image.float() / 65535).permute(1, 2, 0).numpy(), photometric="rgb")
    inputs = [tmp_path / n for n in ("a.png", "b.tif", "c.tif")]
    result = cli("predict", rgb_run, *inputs, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    png = imagecodecs.png_decode((tmp_path / "out" / "a.png").read_bytes())
    tif = tifffile.imread(tmp_path / "out" / "b.tif")
    flt = tifffile.imread(tmp_path / "out" / "c.tif")
    assert png.dtype == tif.dtype == np.uint16 and flt.dtype == np.float32
    assert png.shape == tif.shape == flt.shape == (48, 40, 3)
    assert np.any(png % 257 != 0) and np.array_equal(png, tif)  # real 16-bit values, not 8-bit scaled
    quantised = (torch.from_numpy(flt).clamp(0, 1) * 65535).round().to(torch.int32).numpy()
    assert np.array_equal(quantised, png)
    again = read_image(tmp_path / "out" / "c.tif")
    assert again.dtype == torch.float32 and torch.equal(again, torch.from_numpy(flt).permute(2, 0, 1))
    result = cli("predict", rgb_run, tmp_path / "out" / "c.tif", "--out", tmp_path / "out2")
    assert result.exit_code == 0, result.output


def test_channel_mismatch_is_a_clear_error_or_a_documented_conversion(grey_run, rgb_run, tmp_path, cli):
    save(tmp_path / "rgb.png", smooth_image(40, 40))
    save(tmp_path / "grey.png", smooth_image(40, 40, channels=1))
    result = cli("predict", grey_run, tmp_path / "rgb.png", "--out", tmp_path / "o1")
    assert result.exit_code == 2
    assert "rgb.png" in result.output and "1-channel" in result.output and "--convert-channels" in result.output
    result = cli("predict", rgb_run, tmp_path / "grey.png", "--out", tmp_path / "o2")
    assert result.exit_code == 2 and "grey.png" in result.output and "3-channel" in result.output
    assert cli("predict", grey_run, tmp_path / "rgb.png", "--out", tmp_path / "o3", "--convert-channels").exit_code == 0
    assert Image.open(tmp_path / "o3" / "rgb.png").mode == "L"
    assert cli("predict", rgb_run, tmp_path / "grey.png", "--out", tmp_path / "o4", "--convert-channels").exit_code == 0
    assert Image.open(tmp_path / "o4" / "grey.png").mode == "RGB"


def test_convert_channels():
    from i2i.inference.predict import convert_channels

    rgb = torch.tensor([[[255]], [[0]], [[0]]], dtype=torch.uint8)
    assert convert_channels(rgb, 1).item() == round(0.299 * 255)
    assert convert_channels(torch.full((1, 2, 2), 7, dtype=torch.int32), 3).shape == (3, 2, 2)
    assert convert_channels(torch.zeros(4, 2, 2), 3).shape == (3, 2, 2)


def test_a_format_plugin_extends_the_table(tmp_path):
    import types

    from i2i import hookimpl
    from i2i.assembly import formats
    from i2i.errors import UsageError
    from i2i.plugins import load_plugins

    def read_foo(path):
        return formats.Decoded(path, torch.from_numpy(np.load(path.parent / "scan.npy")).unsqueeze(0), {"foo": 1})

    def write_foo(path, image, like):
        assert like.meta == {"foo": 1}
        with open(path, "wb") as f:
            np.save(f, image.numpy())

    module = types.ModuleType("foo_format_plugin")

    @hookimpl
    def register_formats(register):
        register("foo", lambda: formats.Format("foo", (".foo.gz",), read_foo, write_foo))
        register("png_again", lambda: formats.Format("png_again", (".png",), read_foo, write_foo))

    module.register_formats = register_formats
    plugins = load_plugins(extra=[("foo", module)])
    with pytest.raises(UsageError, match=r"suffix '.png' is claimed by format 'png' \(plugin 'i2i.formats'\) and by "
                                         r"format 'png_again' \(plugin 'foo'\)"):
        formats.format_table(plugins)
    plugins["formats"]._entries.pop("png_again")
    table = formats.format_table(plugins)
    assert table.suffix_of("scan.foo.gz") == ".foo.gz" and table.suffix_of("x.nii.gz") == ".nii.gz"
    np.save(tmp_path / "scan.npy", np.ones((3, 4), np.float32))
    (tmp_path / "scan.foo.gz").touch()
    decoded = table.read(tmp_path / "scan.foo.gz")
    table.write(tmp_path / "out.foo.gz", decoded.image.float(), decoded)
    np.testing.assert_array_equal(np.load(tmp_path / "out.foo.gz"), np.ones((1, 3, 4), np.float32))
    assert ".foo.gz" not in formats.format_table().suffixes()  # the process's own plugins are untouched
    with pytest.raises(UsageError, match="supported"):
        table.format_for(tmp_path / "x.unknown")


# -- inputs, batching, weights, modes ----------------------------------------------------------

def test_folders_globs_and_batches(rgb_run, tmp_path, cli):
    from i2i.inference.model import load_model
    from i2i.inference.predict import PredictOptions, Predictor

    (tmp_path / "in" / "sub").mkdir(parents=True)
    images = [smooth_image(64, 96, seed=i) for i in range(5)]
    for i, image in enumerate(images):
        save(tmp_path / "in" / ("sub" if i % 2 else ".") / f"{i}.png", image)
    result = cli("predict", rgb_run, tmp_path / "in", "--out", tmp_path / "out", "--batch-size", "4", "--ext", "tif")
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.tif"))
    assert written == ["0.tif", "2.tif", "4.tif", "sub/1.tif", "sub/3.tif"]
    single = Predictor(load_model(rgb_run), PredictOptions(batch_size=1)).predict(images[3])
    batched = torch.from_numpy(read(tmp_path / "out" / "sub" / "3.tif")).permute(2, 0, 1).float() / 255
    assert (batched - single).abs().max() <= 1 / 255 + 1e-6
    result = cli("predict", rgb_run, str(tmp_path / "in" / "sub" / "*.png"), "--out", tmp_path / "g")
    assert result.exit_code == 0 and sorted(p.name for p in (tmp_path / "g").iterdir()) == ["1.png", "3.png"]
    result = cli("predict", rgb_run, str(tmp_path / "nothing*.png"), "--out", tmp_path / "g")
    assert result.exit_code == 2 and "nothing*.png" in result.output


def test_ema_weights_are_preferred(tmp_path):
    from i2i.inference.model import load_model
    from i2i.inference.predict import Predictor
    from i2i.runs.checkpoint import load_weights

    run = make_checkpoint(tmp_path / "run", ema=True)
    folder = run / "checkpoints" / "step_00000001"
    assert load_model(run).weights.name == "generator_ema.safetensors"
    assert load_model(run, ema=False).weights.name == "generator.safetensors"
    assert load_model(folder / "generator.safetensors").weights.name == "generator.safetensors"
    image = smooth_image(32, 32)
    ema_out = Predictor(load_model(run)).predict(image)
    raw_model = load_model(run, ema=False)
    raw_out = Predictor(raw_model).predict(image)
    assert (ema_out - raw_out).abs().max() > 1e-3
    load_weights(raw_model.generator, folder / "generator_ema.safetensors")
    assert torch.allclose(Predictor(raw_model).predict(image), ema_out)


def test_train_mode_and_bf16(rgb_run):
    from i2i.inference.model import load_model
    from i2i.inference.predict import PredictOptions, Predictor

    image = smooth_image(64, 64)
    model = load_model(rgb_run)
    evaluated = Predictor(model).predict(image)
    trained = Predictor(model, PredictOptions(train_mode=True)).predict(image)
    assert model.generator.training
    assert (trained - evaluated).abs().max() > 1e-3  # batch statistics instead of running ones
    half = Predictor(load_model(rgb_run), PredictOptions(precision="bf16")).predict(image)
    assert psnr(half, evaluated) > 25


def test_bad_checkpoint_and_options(tmp_path, cli, rgb_run):
    save(tmp_path / "a.png", smooth_image(16, 16))
    result = cli("predict", tmp_path / "a.png", tmp_path / "a.png", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "not a checkpoint" in result.output
    result = cli("predict", rgb_run / "checkpoints" / "step_00000001" / "trainer.json", tmp_path / "a.png",
                 "--out", tmp_path / "o")
    assert result.exit_code == 2
    result = cli("predict", rgb_run, tmp_path / "a.png", "--out", tmp_path, "--ext", "png")
    assert result.exit_code == 2 and "overwrite the input" in result.output
    result = cli("predict", rgb_run, tmp_path / "a.png", "--out", tmp_path / "o", "--precision", "fp16",
                 "--device", "cpu")
    assert result.exit_code == 2 and "CUDA" in result.output
