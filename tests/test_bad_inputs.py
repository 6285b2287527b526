"""The bad-input corpus: every input here ends with a message, the README's exit code
(1 runtime, 2 usage; 0 where the input is now accepted) and no traceback.

A new bad input is one line in CASES: the CLI arguments (placeholders in braces are
filled by the ``env`` fixture: a tiny trained CT run, prepared files), the exit code, a
fragment of the expected message. The comment above each line is the reproducing command
and the item of issue 15 (or 11) it comes from.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CT_RECIPE, TINY_CT, invoke_cli

CT = f"{CT_RECIPE} " + " ".join(TINY_CT)

CASES = [
    # 3. i2i recipe check recipes/medical_ct.toml --set train.ema_decay=nan
    (f"recipe check {CT} --set train.ema_decay=nan", 2, "train.ema_decay: must be a finite number, got nan"),
    # 3. i2i run recipes/medical_ct.toml --set train.ema_decay=nan
    (f"run {CT} --out {{tmp}}/ema_nan --set train.ema_decay=nan", 2, "train.ema_decay: must be a finite number"),
    # 5. i2i run recipes/medical_ct.toml --set optim.lr_g=nan
    (f"run {CT} --out {{tmp}}/lr_nan --set optim.lr_g=nan", 2, "optim.lr_g: must be a finite number, got nan"),
    # 5. i2i run recipes/medical_ct.toml --set optim.lr_d=inf
    (f"recipe check {CT} --set optim.lr_d=inf", 2, "optim.lr_d: must be a finite number, got inf"),
    # 5. i2i run recipes/medical_ct.toml --set losses.l1.weight=nan
    (f"recipe check {CT} --set losses.l1.weight=nan", 2, "losses.l1.weight: must be a finite number, got nan"),
    # 5. i2i run recipes/medical_ct.toml --set losses.gan.weight=inf
    (f"recipe check {CT} --set losses.gan.weight=inf", 2, "losses.gan.weight: must be a finite number, got inf"),
    # 5. i2i run recipes/medical_ct.toml --set losses.l1.weight=-1   (negative weights were accepted)
    (f"recipe check {CT} --set losses.l1.weight=-1", 2, "losses.l1.weight: must be >= 0, got -1"),
    # 5. i2i run recipes/medical_ct.toml --set schedule.name="step" --set schedule.gamma=nan
    (f"recipe check {CT} --set schedule.name=step --set schedule.gamma=nan", 2,
     "schedule.gamma: must be a finite number, got nan"),
    # 5. i2i run recipes/medical_ct.toml --set data.val_fraction=nan   (silently no split)
    (f"recipe check {CT} --set data.val_fraction=nan", 2, "data.val_fraction: must be a finite number, got nan"),
    # 5. NaN inside a component option: i2i recipe check recipes/medical_ct.toml --set 'task.hu_range=[nan, 1.0]'
    (f"recipe check {CT} --set task.hu_range=[nan,1.0]", 2, "task.hu_range: must hold finite numbers"),
    # 5. i2i recipe check recipes/medical_ct.toml --set 'optim.betas_g=[0.5, 1.5]'   (a torch traceback at run)
    (f"recipe check {CT} --set optim.betas_g=[0.5,1.5]", 2,
     "optim.betas_g: expected a list of (a number >= 0 and < 1), got [0.5, 1.5]"),
    # 6. i2i run recipes/medical_ct.toml --set run.seed=99999999999999999999999
    (f"run {CT} --out {{tmp}}/seed --set run.seed=99999999999999999999999", 2, "run.seed: must be <= 4294967295"),
    # 6./11. i2i recipe check recipes/medical_ct.toml --set generator.depth=99   (said ok; 36 GB at run time)
    (f"recipe check {CT} --set generator.depth=99", 2, "depth must be 2..16, got 99"),
    # 11. i2i summary recipes/medical_ct.toml --set generator.depth=99
    (f"summary {CT_RECIPE} --set generator.depth=99", 2, "depth must be 2..16, got 99"),
    # 11. a factory error shows in recipe check: i2i recipe check recipes/medical_ct.toml --set generator.ngf=0
    (f"recipe check {CT_RECIPE} --set generator.ngf=0", 2, "ngf must be >= 1, got 0"),
    # 6. i2i recipe check recipes/medical_ct.toml --set 'data.group_pattern="(["'
    (f"recipe check {CT} --set data.group_pattern='\"([\"'", 2,
     "data.group_pattern: '([' is not a valid regular expression"),
    # 6. i2i run recipes/medical_ct.toml --out /etc/passwd   (--out naming a file)
    (f"run {CT} --out {{file}}", 2, "is a file, not a folder; choose another --out"),
    # 6. i2i run recipes/medical_ct.toml --out /proc/nope   (an unwritable place)
    (f"run {CT} --out {{file}}/inside", 2, "cannot create the run directory there"),
    # 6. i2i run recipes/medical_ct.toml --set train.num_threads=100000   (crashed with a segfault)
    (f"run {CT} --out {{tmp}}/threads --set train.num_threads=100000", 2,
     "train.num_threads: 100000 threads for"),
    # 12. i2i run recipes/medical_ct.toml --set 'task.views=[10, 2]'   (a raw TypeError text)
    (f"recipe check {CT} --set task.views=[10,2]", 2,
     "task.views: a range is [lo, hi] of two counts or two fractions with lo <= hi, got [10, 2]"),
    # 12. i2i run recipes/medical_ct.toml --out ''   (silently the default)
    (f"run {CT} --out ''", 2, "--out: empty"),
    # 12. i2i run --resume RUN --out OTHER   (--out was ignored)
    ("run --resume {run} --out {tmp}/other", 2, "a resumed run continues in its own directory"),
    # 12. i2i export RUN/checkpoints/step_2/generator.safetensors --format safetensors --out (the same file)
    ("export {ckpt}/generator.safetensors --format safetensors --out {ckpt}/generator.safetensors", 2,
     "would overwrite generator.safetensors of the checkpoint being exported"),
    # 12. i2i predict RUN slice.npy --out DIR --tile 1   (accepted; 17.5 HU off the untiled output)
    ("predict {run} {slice_npy} --out {tmp}/tile1 --tile 1", 2, "--tile 1: tiles must be at least 512 pixels"),
    # 12. i2i recipe check recipe-with-BOM.toml   (a cryptic TOML error)
    ("recipe check {bom}", 0, "ok (task ct_sparse_view"),
    # 12. aligned files that are not 2:1: i2i run aligned.toml --set data.root=SQUARE_IMAGES
    ("run {aligned} --out {tmp}/square --set data.root={square_dir}", 0, "are not twice as wide as high"),
    # 4. i2i predict RUN nan_volume.nii.gz --out DIR   (wrote 49 % NaN with exit 0)
    ("predict {run} {nan_nifti} --out {tmp}/nan_predict", 2, "nan.nii.gz: the input holds 300 NaN value(s)"),
    # 4. training data with NaN: i2i run aligned.toml --set data.root=NAN_NPY   ("loss became nan", no file named)
    ("run {aligned} --out {tmp}/nan_train --set data.root={nan_dir} --set task.in_channels=1 "
     "--set task.out_channels=1", 1, "2.npy: input holds 35 NaN value(s) (of 1024)"),
    # 4. the same with data.on_error = "skip": the file is skipped and named
    ("run {aligned} --out {tmp}/nan_skip --set data.root={nan_dir} --set task.in_channels=1 "
     "--set task.out_channels=1 --set data.on_error=skip", 0, "skipped a bad sample: "),
    # 11. 1-channel data under a 3-channel task: i2i run aligned.toml --set data.root=GREY_PNGS
    ("run {aligned} --out {tmp}/grey --set data.root={grey_dir}", 1,
     "input has 1 channel(s), the task expects 3 (task.in_channels = 3); set task.in_channels = 1"),
    # 11. i2i recipe check recipes/medical_ct.toml --set losses.l1.weigth=3
    (f"recipe check {CT} --set losses.l1.weigth=3", 2, "losses.l1.weigth: unknown key (did you mean 'weight'?)"),
    # 11. "losse" typo: i2i recipe check recipes/medical_ct.toml --set losses.l1.name=l11
    (f"recipe check {CT} --set losses.l1.name=l11", 2, "unknown loss 'l11' (did you mean 'l1'?)"),
]

ALIGNED = """
[task]
name = "paired"
[data]
source = "aligned"
load_size = 32
crop_size = 32
[generator]
name = "unet"
depth = 3
ngf = 4
[discriminator]
name = "patchgan"
ndf = 4
n_layers = 1
[train]
steps = 2
batch_size = 1
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    """The placeholders of CASES: a tiny trained CT run and prepared bad files."""
    import nibabel as nib
    from PIL import Image

    tmp = tmp_path_factory.mktemp("bad_inputs")
    code, output = invoke_cli("run", *shlex.split(CT), "--out", tmp / "run")
    assert code == 0, output
    (tmp / "file").write_text("not a folder")
    volume = np.full((32, 32, 3), -1000.0, dtype=np.float32)
    volume[:10, :10, 0] = np.nan
    volume[:10, :10, 1] = np.nan
    volume[:10, :10, 2] = np.nan
    nib.save(nib.Nifti1Image(volume, np.eye(4)), tmp / "nan.nii.gz")
    np.save(tmp / "slice.npy", np.full((1, 64, 64), -1000.0, dtype=np.float32))
    rng = np.random.default_rng(0)
    for name, make in (("nan", lambda i: _nan_pair(rng, i)),
                       ("grey", lambda i: Image.fromarray((rng.random((32, 64)) * 255).astype(np.uint8))),
                       ("square", lambda i: Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)))):
        folder = tmp / f"data_{name}"
        folder.mkdir()
        for i in range(3):
            item = make(i)
            if isinstance(item, np.ndarray):
                np.save(folder / f"{i}.npy", item)
            else:
                item.save(folder / f"{i}.png")
    (tmp / "aligned.toml").write_text(ALIGNED)
    (tmp / "bom.toml").write_bytes(b"\xef\xbb\xbf" + CT_RECIPE.read_bytes())
    return {"tmp": str(tmp), "run": str(tmp / "run"), "ckpt": str(tmp / "run" / "checkpoints" / "step_00000002"),
            "file": str(tmp / "file"), "nan_nifti": str(tmp / "nan.nii.gz"), "slice_npy": str(tmp / "slice.npy"),
            "nan_dir": str(tmp / "data_nan"), "grey_dir": str(tmp / "data_grey"),
            "square_dir": str(tmp / "data_square"),
            "aligned": str(tmp / "aligned.toml"), "bom": str(tmp / "bom.toml")}


def _nan_pair(rng, index: int) -> np.ndarray:
    pair = rng.random((32, 64)).astype(np.float32)
    if index == 2:
        pair[:5, :7] = np.nan  # 35 values in the left half (the input)
    return pair


def _case_id(args: str) -> str:
    return args.replace(CT, "CT").replace(str(CT_RECIPE), "recipes/medical_ct.toml")[:80]


@pytest.mark.parametrize("args, code, fragment", CASES, ids=[_case_id(c[0]) for c in CASES])
def test_bad_input(env, args, code, fragment):
    exit_code, output = invoke_cli(*shlex.split(args.format(**env)))
    assert "Traceback" not in output, output
    assert fragment in output, output
    assert exit_code == code, output
    if code == 2 and "run " in args and "--resume" not in args:
        assert not list(Path(env["tmp"]).glob("*/.i2i-run.lock")), "a refused run left its lock behind"


def test_unpaired_files_warning_is_printed_once(tmp_path):
    # 12. i2i run R --set source.name=paired_folders --set source.unpaired=skip   (the warning came three times)
    from PIL import Image

    for folder, count in (("A", 5), ("B", 4)):
        (tmp_path / "pairs" / folder).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (32, 32), (i * 40, 0, 0)).save(tmp_path / "pairs" / folder / f"{i}.png")
    recipe = tmp_path / "pairs.toml"
    recipe.write_text(ALIGNED.replace('source = "aligned"', f'source = "paired_folders"\nroot = '
                                      f'"{(tmp_path / "pairs").as_posix()}"\nunpaired = "skip"\nval_fraction = 0.25'))
    code, output = invoke_cli("run", recipe, "--out", tmp_path / "run", "--quiet")
    assert code == 0, output
    assert output.count("leaving out unpaired files: 1 input file(s) have no 'B' partner (A/4.png)") == 1, output
