"""``run.deterministic``: deterministic algorithms while training (cuDNN deterministic, no
autotuning, a fixed cuBLAS workspace), the operations without a deterministic
implementation named, the settings restored after, recipe digests unchanged."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

from tests.conftest import train_in_process


def _record_step(monkeypatch, seen: list[tuple], extra=None):
    from i2i.engine.gan_step import GANStep

    step = GANStep.__call__

    def recording(self, batches):
        seen.append((torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
                     torch.backends.cudnn.benchmark, os.environ.get("CUBLAS_WORKSPACE_CONFIG")))
        if extra is not None:
            extra()
        return step(self, batches)

    monkeypatch.setattr(GANStep, "__call__", recording)


def test_deterministic_mode_holds_while_training_and_names_what_breaks_it(tiny_recipe, tmp_path, monkeypatch,
                                                                           capsys):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    seen: list[tuple] = []

    def nondeterministic():  # put_ has no deterministic CPU kernel (PyTorch alerts on it)
        torch.zeros(4).put_(torch.tensor([1, 1]), torch.ones(2))
        warnings.warn("an unrelated warning", UserWarning)

    _record_step(monkeypatch, seen, nondeterministic)
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
              torch.backends.cudnn.benchmark)
    with pytest.warns(UserWarning, match="an unrelated warning"):  # other warnings are shown as before
        train_in_process(tiny_recipe, tmp_path / "run", "run.deterministic=true", "train.steps=2")
    assert seen == [(True, True, False, ":4096:8")] * 2
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark) == before
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    notes = [line for line in capsys.readouterr().err.splitlines() if "run.deterministic:" in line]
    assert notes == ["i2i: note: run.deterministic: 1 operation(s) ran without a deterministic implementation, so "
                     "a resume is not bit-exact where they ran: put_"]


def test_off_by_default_and_a_no_op_then(tiny_recipe):
    from i2i.engine.determinism import deterministic_algorithms
    from i2i.recipe import load_recipe

    assert load_recipe(tiny_recipe).run.deterministic is False
    with deterministic_algorithms(False) as operations:
        assert not torch.are_deterministic_algorithms_enabled()
        torch.zeros(4).put_(torch.tensor([1, 1]), torch.ones(2))
    assert operations == []


def test_a_workspace_set_by_the_user_is_kept(monkeypatch):
    from i2i.engine.determinism import deterministic_algorithms, operation_of

    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    with deterministic_algorithms(True, announce=False):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    assert operation_of("upsample_bilinear2d_backward_out_cuda does not have a deterministic implementation, but "
                        "you set ...") == "upsample_bilinear2d_backward_out_cuda"
    assert operation_of("something else") is None


def test_deterministic_key_leaves_recipe_digests_unchanged(tiny_recipe):
    from i2i.recipe import load_recipe

    assert load_recipe(tiny_recipe).digest() == load_recipe(tiny_recipe, ["run.deterministic=false"]).digest()
    assert "deterministic" not in str(load_recipe(tiny_recipe).as_dict().get("train"))
