"""The red-team findings of issue 21 (550 bad inputs and faults through the CLI), one short
reproduction each, beside tests/test_bad_inputs.py: the comment above each test is the
finding and its item number. Each failed before its fix."""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import signal
import types

import numpy as np
import pytest
import torch

from i2i import hookimpl
from i2i.runs.lock import LOCK_NAME
from tests.conftest import CT_RECIPE, TINY_CT, invoke_cli
from tests.plugin_fixtures import process_plugins

CT = f"{CT_RECIPE} " + " ".join(TINY_CT)
QUICK = (*TINY_CT, "--set", "train.final_eval=false", "--quiet")


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """A finished tiny CT run (not to be changed: copy it)."""
    run = tmp_path_factory.mktemp("red") / "run"
    code, output = invoke_cli("run", *shlex.split(CT), "--out", run, "--set", "train.checkpoint_every=1",
                              "--set", "train.keep_checkpoints=1")
    assert code == 0, output
    return run


def copy_of(run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(run, target, symlinks=True)
    return target


# -- 2. `i2i run exp/recipe.toml --out exp` deleted the user's results and replaced the recipe ---------------


def test_a_folder_of_the_users_is_never_taken_for_a_run_to_restart(tmp_path):
    exp = tmp_path / "exp"
    (exp / "samples").mkdir(parents=True)
    mine = {"recipe.toml": CT_RECIPE.read_bytes(), "eval.json": b'{"mine": 1}', "eval.csv": b"a,b\n",
            "report.html": b"<p>mine</p>", "samples/step_00000001.png": b"png"}
    for name, data in mine.items():
        (exp / name).write_bytes(data)
    code, output = invoke_cli("run", exp / "recipe.toml", "--out", exp, *QUICK)
    assert code == 2 and "holds files that are not an i2i run" in output, output
    assert {name: (exp / name).read_bytes() for name in mine} == mine
    code, output = invoke_cli("run", "--resume", exp, *QUICK)  # nor through --resume
    assert code == 2 and "not a run directory made by i2i" in output, output
    assert {name: (exp / name).read_bytes() for name in mine} == mine


# -- 3. writes followed planted symlinks --------------------------------------------------------------------


def test_a_planted_link_as_the_lock_file_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_NAME).symlink_to(victim)
    code, output = invoke_cli("run", *shlex.split(CT), "--out", run, "--quiet")
    assert code == 2 and f"{run / LOCK_NAME}: is a symbolic link, not i2i's lock file" in output, output
    assert victim.read_text() == "precious"


def test_planted_links_at_eval_outputs_and_temporaries_are_replaced_not_followed(done, tmp_path):
    run = copy_of(done, tmp_path)
    victims = {name: tmp_path / f"victim-{name}" for name in ("eval.csv", "eval.json.tmp", "report.html.tmp")}
    for name, victim in victims.items():
        victim.write_text("precious")
        (run / name).unlink(missing_ok=True)
        (run / name).symlink_to(victim)
    code, output = invoke_cli("eval", run, "--quiet")
    assert code == 0, output
    assert invoke_cli("report", run)[0] == 0
    assert all(victim.read_text() == "precious" for victim in victims.values())
    assert not (run / "eval.csv").is_symlink() and (run / "eval.csv").read_text().startswith("index,path")


def test_a_planted_link_among_predict_outputs_is_replaced_not_followed(done, tmp_path):
    victim = tmp_path / "victim.npy"
    victim.write_bytes(b"precious")
    np.save(tmp_path / "slice.npy", np.full((32, 32), -1000.0, dtype=np.float32))
    out = tmp_path / "out"
    out.mkdir()
    (out / "slice.npy").symlink_to(victim)
    code, output = invoke_cli("predict", done, tmp_path / "slice.npy", "--out", out, "--quiet")
    assert code == 0, output
    assert victim.read_bytes() == b"precious" and not (out / "slice.npy").is_symlink()
    assert np.load(out / "slice.npy").shape == (32, 32)


# -- 7. a full disk -------------------------------------------------------------------------------------------


@pytest.fixture
def full_disk(monkeypatch):
    """Every atomic write fails for lack of space after writing half its bytes."""
    import i2i.atomic

    def fill_up(path, f, data):
        f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(i2i.atomic, "_write_all", fill_up)


def test_a_full_disk_while_predicting_leaves_no_partial_output(done, tmp_path, monkeypatch):
    from i2i.data import image_formats, imageio

    np.save(tmp_path / "slice.npy", np.full((32, 32), -1000.0, dtype=np.float32))
    real = imageio.write_array

    def half_then_full(path, array, *args, **kwargs):  # the format's writer itself runs out of space
        real(path, array, *args, **kwargs)
        with open(path, "r+b") as f:
            f.truncate(10)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(image_formats, "write_array", half_then_full)
    code, output = invoke_cli("predict", done, tmp_path / "slice.npy", "--out", tmp_path / "out", "--quiet")
    assert code == 1 and "no space left on the device" in output and "Traceback" not in output, output
    assert not list((tmp_path / "out").rglob("*.npy")) and not list((tmp_path / "out").glob(".i2i-tmp-*"))


def test_a_full_disk_during_recipe_copy_leaves_nothing_that_blocks_the_retry(tmp_path, monkeypatch, full_disk):
    target = tmp_path / "mine.toml"
    code, output = invoke_cli("recipe", "copy", "medical_ct", target)
    assert code == 2 and "no space left on the device" in output and "nothing was written" in output, output
    assert not target.exists() and not list(tmp_path.iterdir())
    monkeypatch.undo()
    assert invoke_cli("recipe", "copy", "medical_ct", target)[0] == 0 and target.read_bytes() == CT_RECIPE.read_bytes()


def test_a_full_disk_during_new_plugin_leaves_no_half_package(tmp_path, monkeypatch):
    from pathlib import Path

    real = Path.write_text

    def no_space(path, *args, **kwargs):  # the disk fills up at the package's last file
        if path.name == "test_plugin.py":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", no_space)
    code, output = invoke_cli("new-plugin", "demo", "--dir", tmp_path / "pkg")
    assert code == 2 and "(no space left on the device); nothing was written" in output, output
    assert "Traceback" not in output and not list(tmp_path.iterdir())


def test_a_full_disk_during_export_is_a_message(done, tmp_path, full_disk):
    code, output = invoke_cli("export", done, "--format", "safetensors", "--out", tmp_path / "g.safetensors")
    assert code == 1 and "no space left on the device" in output and "Traceback" not in output, output
    assert not list(tmp_path.iterdir())


# -- 9. third-party component returns were not checked -------------------------------------------------------


class TupleNet(torch.nn.Module):
    def __init__(self, in_channels, out_channels, ngf: int = 8):
        super().__init__()
        self.conv = torch.nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x):
        return self.conv(x), x


class HalfNet(TupleNet):
    def forward(self, x):
        return self.conv(x)[..., ::2, :]


def float_loss():
    class FloatL1:
        role = "reconstruction"

        def __call__(self, output, target):
            return float((output - target).abs().mean())

    return FloatL1()


def odd_role_loss():
    class Perceptualish:
        role = "perceptual"

        def __call__(self, output, target):
            return (output - target).abs().mean()

    return Perceptualish()


def x_schedule(total_steps: int):
    class X:
        def factor(self, step):
            return "x"

    return X()


def int_source():
    from i2i.data import Source

    class Ints(Source):
        def dataset(self, split):
            return [{"target": 3, "path": "three"}] * 4

    return Ints()


def bad_plugin():
    module = types.ModuleType("bad_components")

    @hookimpl
    def register_generators(register):
        register("tuple_net", TupleNet)
        register("half_net", HalfNet)

    @hookimpl
    def register_losses(register):
        register("float_l1", float_loss)
        register("odd_role", odd_role_loss)

    @hookimpl
    def register_schedules(register):
        register("x_schedule", x_schedule)

    @hookimpl
    def register_sources(register):
        register("ints", int_source)

    @hookimpl
    def register_formats(register):
        register("nothing", lambda: None)

    for name, value in list(locals().items()):
        if name.startswith("register_"):
            setattr(module, name, value)
    return module


@pytest.mark.parametrize("sets, fragment", [
    (["generator.name=tuple_net"], "generator 'tuple_net' (plugin 'bad'): returned tuple, not a tensor"),
    (["generator.name=half_net"], "generator 'half_net' (plugin 'bad'): returned shape (2, 1, 16, 32) for input "
                                  "(2, 1, 32, 32)"),
    (["losses.l1.name=float_l1"], "losses.l1: loss 'float_l1' (plugin 'bad'): __call__ returned float"),
    (["losses.l1.name=odd_role"], "losses.l1: loss 'odd_role' (plugin 'bad'): role 'perceptual' is none of"),
    (["schedule.name=x_schedule"], "schedule 'x_schedule' (plugin 'bad'): factor(0) returned 'x', not a finite number"),
    (["source.name=ints"], "source 'ints' (plugin 'bad'): sample 0 is a dict of target: int, path: str"),
], ids=["generator-tuple", "generator-shape", "loss-float", "loss-role", "schedule-x", "source-ints"])
def test_third_party_returns_are_checked_naming_the_plugin(tmp_path, sets, fragment):
    tiny = CT if not any(s.startswith("source.") for s in sets) else \
        f"{CT_RECIPE} --set train.steps=1 --set train.batch_size=2 --set generator.ngf=8 --set discriminator.ndf=8"
    with process_plugins([("bad", bad_plugin())]):
        args = [a for s in sets for a in ("--set", s)]
        code, output = invoke_cli("run", *shlex.split(tiny), "--out", tmp_path / "run", *args, "--quiet")
    assert "Traceback" not in output and fragment in output, output
    assert code in (1, 2)


def test_a_format_whose_factory_returns_none_leaves_predict_working(done, tmp_path):
    np.save(tmp_path / "slice.npy", np.full((32, 32), -1000.0, dtype=np.float32))
    with process_plugins([("bad", bad_plugin())]):
        code, output = invoke_cli("predict", done, tmp_path / "slice.npy", "--out", tmp_path / "out")
    assert code == 0, output
    assert "format 'nothing' (plugin 'bad'): its factory returned NoneType, not an i2i.data.formats.Format; it is " \
           "left out" in output


# -- 12. smaller -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_lock_file_that_is_a_fifo_or_a_folder_is_named(tmp_path, kind):
    run = tmp_path / "run"
    run.mkdir()
    os.mkfifo(run / LOCK_NAME) if kind == "fifo" else (run / LOCK_NAME).mkdir()
    code, output = invoke_cli("run", *shlex.split(CT), "--out", run, "--quiet")
    said = "is not a regular file" if kind == "fifo" else "is a folder"
    assert code == 2 and f"{run / LOCK_NAME}: {said}, not i2i's lock file" in output, output


def test_a_stale_lock_naming_a_live_unrelated_process_says_so(tmp_path):
    import socket

    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_NAME).write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(), "started": "then",
                                             "command": "i2i run R"}))
    code, output = invoke_cli("run", *shlex.split(CT), "--out", run, *QUICK[len(TINY_CT):])
    assert code == 0, output
    assert f"taking over the lock left by process {os.getppid()}" in output
    assert "ended without releasing it (killed or crashed; its process id now belongs to another program)" in output


def test_a_trainer_json_without_its_fields_is_damaged(done, tmp_path):
    from i2i.runs.checkpoint import checkpoint_problem

    run = copy_of(done, tmp_path)
    folder = run / "checkpoints" / "step_00000002"
    (folder / "trainer.json").write_text(json.dumps({"format": "i2i.trainer.v1", "state": {}}))
    assert checkpoint_problem(folder) == ("trainer.json lacks the trainer state's step, recipe_digest, opt_g, "
                                          "schedule, rng, rank_rngs")


def test_a_damaged_checkpoint_at_a_higher_step_is_set_aside(done, tmp_path):
    run = copy_of(done, tmp_path)
    damaged = run / "checkpoints" / "step_00000009"
    shutil.copytree(run / "checkpoints" / "step_00000002", damaged)
    (damaged / "generator.safetensors").write_bytes(b"broken")
    trainer = (damaged / "trainer.json").read_text()
    (damaged / "trainer.json").write_text(trainer.replace('"step": 2', '"step": 9'))
    code, output = invoke_cli("run", "--resume", run, "--set", "train.steps=3", "--quiet")
    assert code == 0, output
    assert "skipping checkpoint step_00000009: generator.safetensors" in output and "moved to damaged-step_00000009" in output
    assert sorted(p.name for p in (run / "checkpoints").iterdir() if p.is_dir()) == ["damaged-step_00000009",
                                                                                   "step_00000003"]
    assert json.loads((run / "eval.json").read_text())["step"] == 3


def test_nan_weights_through_init_from_are_named(done, tmp_path):
    from safetensors.torch import load_file, save_file

    source = copy_of(done, tmp_path)
    weights = source / "checkpoints" / "step_00000002" / "generator.safetensors"
    tensors = load_file(weights)
    first = next(k for k, t in tensors.items() if t.is_floating_point())
    tensors[first][...] = float("nan")
    from i2i.runs.checkpoint import read_metadata

    save_file(tensors, weights, metadata=read_metadata(weights))
    code, output = invoke_cli("run", *shlex.split(CT), "--out", tmp_path / "tuned", "--init-from", source, "--quiet")
    assert code == 2 and f"weight value(s) are NaN or infinite (in {first}" in output, output


def test_sigterm_during_the_final_evaluation_releases_the_lock(tmp_path, monkeypatch):
    import i2i.workflow.run as workflow
    from i2i.engine.signals import Terminated

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not unwind")

    monkeypatch.setattr(workflow, "finish_run", terminated)
    lines: list[str] = []
    with pytest.raises(Terminated) as stopped:
        workflow.train(CT_RECIPE, list(TINY_CT[1::2]), out=tmp_path / "run", device="cpu", say=lines.append)
    assert stopped.value.exit_code == 143
    assert not (tmp_path / "run" / LOCK_NAME).exists()
    assert any("terminated during the final evaluation" in line for line in lines)


@pytest.mark.parametrize("planted, said", [
    ("metrics.jsonl/", "metrics.jsonl: is a folder"),
    ("eval.json/", "eval.json: is a folder"),
    ("checkpoints", "checkpoints: is not a folder"),
])
def test_a_folder_or_file_in_place_of_a_run_file_is_named_and_nothing_deleted(done, tmp_path, planted, said):
    run = copy_of(done, tmp_path)
    target = run / planted.rstrip("/")
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    target.mkdir() if planted.endswith("/") else target.write_text("mine")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    code, output = invoke_cli("run", "--resume", run, "--set", "train.steps=3", "--quiet")
    assert code == 2 and said in output and "Traceback" not in output, output
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before


def test_a_plugin_name_with_a_newline_is_refused(tmp_path):
    code, output = invoke_cli("new-plugin", "abc\n", "--dir", tmp_path / "p")
    assert code == 2 and "must start with a lower-case letter" in output and not (tmp_path / "p").exists()
