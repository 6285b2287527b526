"""Sources, formats, bad files, splits and size buckets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.data import DataError, read_image, write_image
from i2i.errors import UsageError
from i2i.data.dataset import CheckedDataset
from i2i.data.sampler import EpochBatchSampler
from i2i.data.splits import holdout_split, split_datasets
from i2i.plugins import get_plugins
from i2i.recipe import load_recipe
from tests.conftest import data_path, train_in_process


def source(name, root, **options):
    return get_plugins()["sources"].build(name, {**options, "root": str(root)})


def write_png16(path, array):
    Image.fromarray(array.astype(np.uint16)).save(path)


@pytest.mark.parametrize("mode, channels", [("L", 1), ("RGB", 3), ("RGBA", 4)])
def test_8bit_formats_decode_losslessly(tmp_path, mode, channels):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (7, 5, channels) if channels > 1 else (7, 5), dtype=np.uint8)
    suffixes = {"L": (".png", ".bmp", ".tif"), "RGB": (".png", ".bmp", ".tif", ".webp"),
                "RGBA": (".png", ".tif", ".webp")}[mode]  # WebP has no grayscale, BMP no alpha
    for suffix in suffixes:
        path = tmp_path / f"x{suffix}"
        Image.fromarray(array, mode).save(path, **({"lossless": True, "exact": True} if suffix == ".webp" else {}))
        t = read_image(path)
        assert t.dtype == torch.uint8 and t.shape == (channels, 7, 5), suffix
        assert np.array_equal(t.permute(1, 2, 0).numpy().squeeze(), array), suffix


def test_16bit_png_and_tiff_keep_16_bits(tmp_path):
    array = np.arange(0, 65536, 257 * 3, dtype=np.uint16).reshape(-1, 2)[:40].reshape(10, 8)
    array[0, 0] = 65535
    for suffix in (".png", ".tif"):
        write_png16(tmp_path / f"a{suffix}", array)
        t = read_image(tmp_path / f"a{suffix}")
        assert t.dtype == torch.int32 and int(t.max()) == 65535
        assert np.array_equal(t[0].numpy(), array)


def test_npy_any_channels(tmp_path):
    array = np.random.default_rng(1).normal(size=(6, 9, 5)).astype(np.float32)
    np.save(tmp_path / "a.npy", array)
    t = read_image(tmp_path / "a.npy")
    assert t.shape == (5, 6, 9) and t.dtype == torch.float32
    assert torch.equal(t, torch.from_numpy(array).permute(2, 0, 1))


def _checked(dataset, task_channels, on_error="raise"):
    return CheckedDataset(dataset, task_channels, "none", on_error=on_error)


def test_corrupt_jpeg_is_named_and_skipped(tmp_path, facades):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("001.jpg", "002.jpg", "003.jpg"):
        (folder / name).write_bytes((facades / "1.jpg").read_bytes())
    data = (folder / "002.jpg").read_bytes()
    (folder / "002.jpg").write_bytes(data[: len(data) // 3])  # truncated
    ds = source("aligned", folder).dataset("train")
    with pytest.raises(DataError, match=r"002\.jpg: cannot decode image"):
        _checked(ds, {"input": 3, "target": 3})[1]
    skipping = _checked(ds, {"input": 3, "target": 3}, on_error="skip")
    sample = skipping[1]
    assert sample["path"].endswith("003.jpg") and len(sample["skipped"]) == 1 and "002.jpg" in sample["skipped"][0]
    assert skipping[0]["skipped"] == []


def test_mismatched_pair_sizes_and_channels(tmp_path):
    for sub in ("A", "B"):
        (tmp_path / sub).mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "A" / "1.png")
    Image.new("RGB", (40, 32)).save(tmp_path / "B" / "1.png")
    Image.new("L", (32, 32)).save(tmp_path / "A" / "2.png")
    Image.new("RGB", (32, 32)).save(tmp_path / "B" / "2.png")
    Image.new("RGB", (32, 32)).save(tmp_path / "A" / "3.png")
    Image.new("RGB", (32, 32)).save(tmp_path / "B" / "3.png")
    ds = source("paired_folders", tmp_path).dataset("train")
    checked = _checked(ds, {"input": 3, "target": 3})
    with pytest.raises(DataError, match=r"1\.png: input and target differ in size \(input 32x32, target 32x40\)"):
        checked[0]
    with pytest.raises(DataError, match=r"2\.png: input has 1 channel\(s\), the task expects 3"):
        checked[1]
    skipping = _checked(ds, {"input": 3, "target": 3}, on_error="skip")
    assert skipping[0]["path"].endswith("3.png") and len(skipping[0]["skipped"]) == 2


def test_paired_folders_reports_files_without_partner(tmp_path):
    for sub in ("A", "B"):
        (tmp_path / sub / "x").mkdir(parents=True)
    for name in ("1", "2", "3"):
        Image.new("L", (8, 8)).save(tmp_path / "A" / "x" / f"{name}.png")
    Image.new("L", (8, 8)).save(tmp_path / "B" / "x" / "1.tif")  # extensions may differ
    Image.new("L", (8, 8)).save(tmp_path / "B" / "x" / "9.png")
    with pytest.raises(DataError) as err:
        source("paired_folders", tmp_path).dataset("train")
    text = str(err.value)
    assert "2 input file(s) have no 'B' partner (A/x/2.png, A/x/3.png)" in text
    assert "1 target file(s) have no 'A' partner (B/x/9.png)" in text and 'unpaired = "skip"' in text
    ds = source("paired_folders", tmp_path, unpaired="skip").dataset("train")
    assert len(ds) == 1 and ds.pairs[0][1].name == "1.tif"


def test_paired_folders_split_layouts(tmp_path):
    for split in ("train", "val"):
        for sub in ("A", "B"):
            (tmp_path / "one" / split / sub).mkdir(parents=True)
            (tmp_path / "two" / sub / split).mkdir(parents=True)
            for i in range(2 if split == "train" else 1):
                Image.new("L", (8, 8)).save(tmp_path / "one" / split / sub / f"{i}.png")
                Image.new("L", (8, 8)).save(tmp_path / "two" / sub / split / f"{i}.png")
    for layout in ("one", "two"):
        s = source("paired_folders", tmp_path / layout)
        assert s.splits() == ["train", "val"]
        assert len(s.dataset("train")) == 2 and len(s.dataset("val")) == 1


def test_brain_mr_ct_pairs_by_patient_folders():
    root = data_path("mr_ct_brain")
    ds = source("paired_folders", root, input_dir="t1", target_dir="ct").dataset("train")
    assert len(ds) == 246
    a, b = ds.pairs[0]
    assert a.parent.name == "t1" and b.parent.name == "ct" and a.name == b.name and a.parent.parent == b.parent.parent


def test_group_split_never_leaks_a_patient(tmp_path):
    root = data_path("mr_ct_brain")
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[data]\nsource = "paired_folders"\nroot = "{root}"\ninput_dir = "t1"\ntarget_dir = "ct"\n'
                      'val_fraction = 0.2\ntest_fraction = 0.2\ngroup_pattern = "^(Patient_[0-9]+)/"\n'
                      '[task]\nin_channels = 1\nout_channels = 1\n[train]\nsteps = 1\n')
    r = load_recipe(recipe)
    src = get_plugins()["sources"].build("paired_folders", {**r.source.options, "root": str(root)})
    splits = split_datasets(src, r.data, seed=0)
    patients = {name: {p.split("/")[0] for p in ds.relative_paths} for name, ds in splits.items()}
    assert set(splits) == {"train", "val", "test"}
    assert not patients["train"] & patients["val"] and not patients["train"] & patients["test"]
    assert not patients["val"] & patients["test"]
    assert sum(len(ds) for ds in splits.values()) == 246 and len(patients["val"]) >= 2
    again = split_datasets(src, r.data, seed=0)
    assert again["val"].indices == splits["val"].indices  # deterministic


def test_named_groups_are_held_out_whatever_the_seed(tmp_path):
    root = data_path("mr_ct_brain")
    base = (f'[data]\nsource = "paired_folders"\nroot = "{root}"\ninput_dir = "t1"\ntarget_dir = "ct"\n'
            'group_pattern = "^(Patient_[0-9]+)/"\n[task]\nin_channels = 1\nout_channels = 1\n[train]\nsteps = 1\n')
    recipe = tmp_path / "r.toml"
    recipe.write_text(base.replace(
        'group_pattern', 'test_groups = ["Patient_01", "Patient_1[01]"]\nval_groups = ["Patient_05"]\ngroup_pattern'))
    r = load_recipe(recipe)
    src = get_plugins()["sources"].build("paired_folders", {**r.source.options, "root": str(root)})
    for seed in (0, 7):
        splits = split_datasets(src, r.data, seed=seed)
        patients = {name: {p.split("/")[0] for p in ds.relative_paths} for name, ds in splits.items()}
        assert patients["test"] == {"Patient_01", "Patient_10", "Patient_11"} and patients["val"] == {"Patient_05"}
        assert not patients["train"] & (patients["test"] | patients["val"])
    recipe.write_text(base.replace('group_pattern', 'test_groups = ["Patient_99"]\ngroup_pattern'))
    with pytest.raises(UsageError, match=r"data.test_groups: 'Patient_99' matches none of the groups left to hold "
                                         r"out: Patient_01, Patient_02"):
        split_datasets(src, load_recipe(recipe).data, seed=0)


def test_holdout_split_is_deterministic_and_disjoint():
    keep, held = holdout_split(100, 0.1, seed=3)
    assert len(held) == 10 and not set(keep) & set(held) and sorted(keep + held) == list(range(100))
    assert holdout_split(100, 0.1, seed=3) == (keep, held) and holdout_split(100, 0.1, seed=4) != (keep, held)


def test_size_buckets_keep_batches_homogeneous():
    sizes = [(32, 32)] * 7 + [(48, 32)] * 5
    sampler = EpochBatchSampler(len(sizes), batch_size=2, seed=0, buckets=sizes)
    batches = sampler.epoch_batches(0)
    assert len(batches) == 3 + 2 == sampler.batches_per_epoch
    for batch in batches:
        assert len({sizes[i] for i in batch}) == 1
    sampler.set_position(0, 2)
    assert list(sampler) == batches[2:]


def test_mixed_sizes_train_in_batches_through_buckets(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        h = 40 if i % 2 else 56
        Image.fromarray(rng.integers(0, 256, (h, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[task]\nname = "restoration"\n[data]\nsource = "folder"\nroot = "{folder}"\n'
                      'preprocess = "crop"\ncrop_size = 32\n[generator]\nname = "unet"\ndepth = 5\nngf = 4\n'
                      '[discriminator]\nname = "patchgan"\nndf = 4\nn_layers = 1\n[train]\nsteps = 3\nbatch_size = 2\n')
    trainer = train_in_process(recipe, tmp_path / "run")
    assert trainer.step == 3 and trainer.data.sampler.buckets is not None


def test_16bit_and_float_pairs_round_trip_bit_exactly(tmp_path):
    from i2i.data.geometry import PairGeometry
    from i2i.data.loader import collate_samples

    rng = np.random.default_rng(2)
    a16 = rng.integers(0, 65536, (24, 24), dtype=np.uint16)
    write_png16(tmp_path / "a.png", a16)
    f32 = rng.normal(size=(24, 24, 2)).astype(np.float32) * 1000
    np.save(tmp_path / "f.npy", f32)
    identity = PairGeometry(preprocess="none", flip=False)
    for name in ("a.png", "f.npy"):
        decoded = read_image(tmp_path / name)
        batch = collate_samples([{"input": decoded, "target": decoded.clone(), "path": name}])
        out = identity(batch, train=True)
        assert out["input"].dtype == decoded.dtype and torch.equal(out["input"][0], decoded)
        write_image(tmp_path / f"out_{name}", out["target"][0])
        assert torch.equal(read_image(tmp_path / f"out_{name}"), decoded)
    # through the task's normalisation, 16-bit values come back exactly after quantisation
    from i2i.tasks import Task

    task = Task(1, 1)
    x = task.input_from_image(read_image(tmp_path / "a.png"))
    back = (task.decode_output(x, x) * 65535).round().to(torch.int32)
    assert torch.equal(back[0], read_image(tmp_path / "a.png"))


@pytest.mark.parametrize("channels", [1, 4])
def test_one_and_four_channel_datasets_train(tmp_path, channels):
    rng = np.random.default_rng(channels)
    for sub in ("A", "B"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    for i in range(4):
        for sub in ("A", "B"):
            array = rng.normal(size=(36, 36, channels)).astype(np.float32) if channels == 4 else \
                rng.integers(0, 65536, (36, 36), dtype=np.uint16)
            if channels == 4:
                np.save(tmp_path / "data" / sub / f"{i}.npy", array)
            else:
                write_png16(tmp_path / "data" / sub / f"{i}.png", array)
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[task]\nin_channels = {channels}\nout_channels = {channels}\n'
                      f'[data]\nsource = "paired_folders"\nroot = "{tmp_path / "data"}"\npreprocess = "crop"\n'
                      'crop_size = 32\n[generator]\nname = "unet"\ndepth = 5\nngf = 4\n'
                      '[discriminator]\nname = "patchgan"\nndf = 4\nn_layers = 1\n'
                      '[train]\nsteps = 3\nbatch_size = 2\nlog_every = 1\nsample_every = 3\n')
    out = tmp_path / "run"
    train_in_process(recipe, out)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(np.isfinite(r["loss_g"]) for r in records)
    assert list((out / "samples").glob("*.png"))


def test_paired_16_bit_rgb_folders_train_at_16_bits(tmp_path):
    """16-bit RGB inputs as PNG, targets as TIFF: samples carry the files' 16-bit values
    (not 8-bit truncations), sizes come from the headers, and a few steps train."""
    from i2i.data.imageio import write_array

    rng = np.random.default_rng(5)
    written = {}
    for sub, suffix in (("A", ".png"), ("B", ".tif")):
        (tmp_path / "data" / sub).mkdir(parents=True)
        for i in range(4):
            written[sub, i] = rng.integers(0, 65536, (36, 40, 3), dtype=np.uint16)
            write_array(tmp_path / "data" / sub / f"{i}{suffix}", written[sub, i])
    dataset = source("paired_folders", tmp_path / "data").dataset("train")
    sample = dataset[1]
    assert sample["input"].dtype == sample["target"].dtype == torch.int32 and dataset.size_of(1) == (36, 40)
    assert np.array_equal(sample["input"].permute(1, 2, 0).numpy(), written["A", 1])
    assert np.array_equal(sample["target"].permute(1, 2, 0).numpy(), written["B", 1])
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[task]\nin_channels = 3\nout_channels = 3\n'
                      f'[data]\nsource = "paired_folders"\nroot = "{tmp_path / "data"}"\npreprocess = "crop"\n'
                      'crop_size = 32\n[generator]\nname = "unet"\ndepth = 5\nngf = 4\n'
                      '[discriminator]\nname = "patchgan"\nndf = 4\nn_layers = 1\n'
                      '[train]\nsteps = 3\nbatch_size = 2\nlog_every = 1\n')
    out = tmp_path / "run"
    train_in_process(recipe, out)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(np.isfinite(r["loss_g"]) for r in records)
