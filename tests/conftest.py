"""Shared fixtures: the real data sets in ../shared/data, CLI runners, tiny recipes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]


def shared_data() -> Path | None:
    """``../shared/data`` (or ``$I2I_SHARED_DATA``) when present."""
    path = Path(os.environ.get("I2I_SHARED_DATA", ROOT.parent / "shared" / "data"))
    return path if path.is_dir() else None


def data_path(*parts: str) -> Path:
    """A path inside the shared data; skips the test with a reason when it is absent."""
    base = shared_data()
    if base is None:
        pytest.skip("../shared/data is not present (set I2I_SHARED_DATA to its location)")
    path = base.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present in the shared data")
    return path


@pytest.fixture
def facades() -> Path:
    return data_path("facades", "train")


@pytest.fixture
def cli():
    """Run ``i2i`` in-process: ``cli("run", ...)`` returns click's Result."""
    from i2i.cli import cli as group

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(group, [str(a) for a in args], catch_exceptions=False)

    return invoke


def run_i2i(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: int = 600):
    """Run ``i2i`` in a fresh process (plugins loaded anew); returns CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "i2i", *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, timeout=timeout)


TINY_RECIPE = """
[task]
name = "paired"

[source]
name = "aligned"
root = "{root}"
direction = "BtoA"

[data]
load_size = 40
crop_size = 32

[generator]
name = "unet"
depth = 6
ngf = 4

[discriminator]
name = "patchgan"
ndf = 4
n_layers = 2

[train]
steps = 4
batch_size = 2
log_every = 1
sample_every = 2
checkpoint_every = 2

[schedule]
name = "constant"
"""


def write_synthetic_pairs(root: Path, count: int = 16, seed: int = 100) -> Path:
    """``count`` aligned A|B pairs in the pix2pix layout (photo-like LEFT, label-like RIGHT,
    96 x 48 RGB PNGs) written into ``root``; other seeds give other scenes."""
    import torch
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        g = torch.Generator().manual_seed(seed + i)
        base = torch.rand(1, 3, 6, 6, generator=g)
        photo = torch.nn.functional.interpolate(base, size=(48, 48), mode="bicubic", align_corners=False)[0]
        photo = (photo + 0.08 * torch.rand(3, 48, 48, generator=g)).clamp(0, 1)
        labels = (photo * 4).round() / 4  # a posterised "label map" of the same scene
        pair = torch.cat([photo, labels], 2)
        Image.fromarray((pair * 255).round().byte().permute(1, 2, 0).numpy()).save(root / f"{i:02d}.png")
    return root


@pytest.fixture(scope="session")
def synthetic_pairs(tmp_path_factory) -> Path:
    """A folder of 16 aligned A|B pairs (:func:`write_synthetic_pairs`) made here, so engine,
    resume, DDP and event tests need no shared data."""
    return write_synthetic_pairs(tmp_path_factory.mktemp("synthetic_pairs"))


@pytest.fixture
def tiny_recipe(tmp_path, synthetic_pairs) -> Path:
    """A recipe with tiny networks on synthetic aligned pairs (fast on CPU, no shared data)."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_RECIPE.format(root=synthetic_pairs.as_posix()))
    return path


def train_in_process(recipe: Path, out: Path, *sets: str, plugins=None, resume: bool = False):
    """Train in this process on the CPU through the run API (:func:`i2i.workflow.run.train`),
    without the final evaluation and report, its messages on stderr; returns the Trainer."""
    from i2i.workflow.run import train

    result = train(recipe, sets, out=out, device="cpu", resume=out if resume else None, finish=False,
                   plugins=plugins)
    return result.trainer


@pytest.fixture(scope="session")
def synthetic_images(tmp_path_factory) -> Path:
    """A folder of 12 smooth random 48 x 40 RGB PNGs (no shared data needed)."""
    import torch
    from PIL import Image

    root = tmp_path_factory.mktemp("synthetic_images")
    for i in range(12):
        g = torch.Generator().manual_seed(i)
        base = torch.rand(1, 3, 4, 4, generator=g)
        image = torch.nn.functional.interpolate(base, size=(48, 40), mode="bicubic", align_corners=False)[0]
        image = (image + 0.1 * torch.rand(3, 48, 40, generator=g)).clamp(0, 1)
        Image.fromarray((image * 255).round().byte().permute(1, 2, 0).numpy()).save(root / f"{i:02d}.png")
    return root

#: ``--set`` options that make ``recipes/medical_ct.toml`` a run of a few seconds on CPU
#: (built-in phantoms: no data needed).
TINY_CT = ("--set", "train.steps=2", "--set", "train.batch_size=2", "--set", "source.phantom_train_count=4",
           "--set", "source.phantom_val_count=2", "--set", "source.phantom_test_count=2",
           "--set", "source.phantom_size=32", "--set", "generator.ngf=8", "--set", "discriminator.ndf=8")
CT_RECIPE = ROOT / "recipes" / "medical_ct.toml"


def invoke_cli(*args: str):
    """Run ``i2i`` in-process, catching every exception as the console script would see it:
    returns ``(exit_code, output)`` (stdout and stderr together, any traceback included)."""
    import traceback

    from click.testing import CliRunner

    from i2i.cli import cli as group

    result = CliRunner().invoke(group, [str(a) for a in args], catch_exceptions=True)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += "".join(traceback.format_exception(result.exception))
    return result.exit_code, output


@pytest.fixture(autouse=True)
def _lines_said_once_print_again_in_each_test():
    """Lines the data path prints once per process (``i2i.data.source.warn_once`` /
    ``note_once``) print again in every test, so each test sees its own."""
    from i2i.data.source import said

    said.clear()
