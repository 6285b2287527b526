"""The parts of ``python -m benchmarks.gpu_check``: tiny runs on the device, each returning a
dict of what it found (``ok`` says whether the check passed) for the JSON and the table."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import torch

#: A tiny paired recipe on synthetic pairs (``{root}``): seconds per run on any device.
TINY = """
[source]
name = "aligned"
root = "{root}"
[data]
load_size = 36
crop_size = 32
[generator]
name = "unet"
depth = 5
ngf = 8
[discriminator]
name = "patchgan"
ndf = 8
n_layers = 2
[train]
steps = 6
batch_size = 2
log_every = 1
checkpoint_every = 3
sample_every = 1000
[schedule]
name = "constant"
"""
#: The built-in CT recipe made tiny (phantoms: no data needed).
TINY_CT = ["source.phantom_train_count=4", "source.phantom_val_count=2", "source.phantom_test_count=2",
           "source.phantom_size=32", "generator.ngf=8", "discriminator.ndf=8", "train.batch_size=2"]
CT_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "medical_ct.toml"


def tiny_recipe(work: Path) -> Path:
    """The tiny recipe over 8 random 32 x 32 pairs written under ``work``."""
    from PIL import Image

    root = work / "pairs"
    root.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for i in range(8):
        pair = (torch.rand(36, 72, 3, generator=g) * 255).byte().numpy()
        Image.fromarray(pair).save(root / f"{i}.png")
    path = work / "tiny.toml"
    path.write_text(TINY.format(root=root.as_posix()))
    return path


def train(recipe: Path | str, out: Path, device: torch.device, *sets: str, resume: bool = False):
    """A run on ``device`` without the final evaluation; returns ``(trainer, lines said)``."""
    from i2i.workflow.run import train as run

    lines: list[str] = []
    result = run(recipe, list(sets), out=out, device=device.type, resume=out if resume else None, finish=False,
                 say=lines.append)
    return result.trainer, lines


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from i2i.runs.checkpoint import latest_checkpoint, read_tensors

    folder = latest_checkpoint(run_dir / "checkpoints")
    return {f"{role}.{k}": v for role in ("generator", "discriminator")
            for k, v in read_tensors(folder / f"{role}.safetensors").items()}


def resume(recipe: Path, work: Path, device: torch.device, deterministic: bool) -> dict:
    """6 steps straight against 3 steps and a resume to 6: bit-exact or the largest difference,
    and (deterministic mode) the operations PyTorch names as nondeterministic."""
    sets = [f"run.deterministic={str(deterministic).lower()}"]
    tag = "deterministic" if deterministic else "default"
    _, said = train(recipe, work / f"straight-{tag}", device, *sets)
    train(recipe, work / f"split-{tag}", device, *sets, "train.steps=3")
    _, said_resumed = train(recipe, work / f"split-{tag}", device, *sets, resume=True)
    a, b = final_weights(work / f"straight-{tag}"), final_weights(work / f"split-{tag}")
    diff = max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel())
    ops = sorted({op for line in said + said_resumed if "run.deterministic:" in line
                  for op in line.rsplit("where they ran: ", 1)[-1].split(", ")})
    exact = all(torch.equal(a[k], b[k]) for k in a)
    # on CUDA without deterministic mode a drift is expected (and reported); with it, it must be explained
    explained = device.type == "cuda" and (not deterministic or bool(ops))
    return {"ok": exact or explained, "bit_exact": exact,
            "max_abs_diff": diff, "nondeterministic_ops": ops}


def precision_steps(recipe: Path, work: Path, device: torch.device) -> dict:
    """fp16 (grad scaler) and bf16 steps with WGAN-GP, and a bf16 CT step (HU output layer in
    fp32): finite losses."""
    from i2i.engine.precision import native_bf16

    out: dict = {"native_bf16": native_bf16(device)}
    for name in ("fp16", "bf16"):
        trainer, _ = train(recipe, work / f"precision-{name}", device, f'train.precision="{name}"',
                           'losses.gan.name="wgangp"', "train.steps=3")
        rows = [json.loads(line) for line in (work / f"precision-{name}" / "metrics.jsonl").read_text().splitlines()]
        losses = [r["loss_g"] for r in rows if "loss_g" in r] + [r["loss_d_penalty"] for r in rows
                                                                   if "loss_d_penalty" in r]
        out[name] = {"finite": all(torch.isfinite(torch.tensor(v)) for v in losses), "last_loss_g": rows[-1]["loss_g"]}
    trainer, _ = train(CT_RECIPE, work / "precision-ct", device, *TINY_CT, 'train.precision="bf16"', "train.steps=2")
    out["ct_bf16_output_layer_fp32"] = bool(getattr(trainer.generator, "fp32_output", False))
    out["ok"] = out["fp16"]["finite"] and out["bf16"]["finite"] and out["ct_bf16_output_layer_fp32"]
    return out


def compiled(recipe: Path, work: Path, device: torch.device) -> dict:
    """``train.compile`` with WGAN-GP (its penalty on the uncompiled discriminator)."""
    start = time.perf_counter()
    trainer, _ = train(recipe, work / "compile", device, "train.compile=true", 'losses.gan.name="wgangp"',
                       "train.steps=3")
    return {"ok": trainer.step == 3, "seconds_with_compilation": time.perf_counter() - start}


def export_on_device(work: Path, device: torch.device) -> dict:
    """ONNX and TorchScript exports of the tiny paired run and of the CT run, made on the device and
    checked against PyTorch there; the CT TorchScript file then runs on the CPU."""
    from i2i.inference.export import export_generator
    from i2i.inference.model import load_model

    out: dict = {}
    for run, fmt in (("straight-deterministic", "onnx"), ("precision-ct", "onnx"), ("precision-ct", "torchscript")):
        path = work / f"{run}.{fmt}"
        result = export_generator(load_model(work / run, str(device)), fmt, path)
        out[f"{run} {fmt}"] = result.max_abs_diff
    loaded = torch.jit.load(str(work / "precision-ct.torchscript"), map_location="cpu")
    hu = torch.rand(1, 1, 48, 40) * 2000 - 1000
    out["torchscript_runs_on_cpu"] = bool(torch.isfinite(loaded(hu)).all())
    out["ok"] = out["torchscript_runs_on_cpu"]
    return out


SYNC_CALLS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize", "cudaMemcpy")


def host_syncs(recipe: Path, work: Path, device: torch.device, steps: int = 5) -> dict:
    """Host synchronisations per plain training step (no logging, validation or checkpoint) of a
    few tasks: the profiler's synchronising CUDA calls, and where they come from
    (``torch.cuda.set_sync_debug_mode``)."""
    from torch.profiler import ProfilerActivity, profile

    from i2i.engine.trainer import Trainer
    from i2i.plugins import get_plugins
    from i2i.recipe import load_recipe

    folder_source = ['source.name="folder"', f'source.root="{(work / "pairs").as_posix()}"']
    cases = {"paired": (recipe, []), "restoration": (recipe, ['task.name="restoration"', *folder_source]),
             "inpainting": (recipe, ['task.name="inpainting"', *folder_source]), "ct_sparse_view": (CT_RECIPE, TINY_CT),
             "ct_low_dose": (CT_RECIPE, [*TINY_CT, 'task.name="ct_low_dose"'])}
    out: dict = {}
    for name, (path, sets) in cases.items():
        folder = work / f"syncs-{name}"
        resolved = load_recipe(path, [*sets, f'run.out="{folder.as_posix()}"', 'run.device="cuda"'])
        trainer = Trainer(resolved, folder, get_plugins(), device, show_progress=False)
        data = trainer.data.batches(0)

        def step():
            trainer.parts.gan_step([trainer.data.prepare(next(data), train=True)])
            trainer.state.step += 1
            trainer._update_ema()

        step()  # warm-up: lazy initialisation, cuDNN autotuning
        torch.cuda.synchronize(device)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(steps):  # the host's CUDA calls are recorded as they are made: no closing sync needed
                step()
        calls = sum(e.count for e in prof.key_averages() if e.key in SYNC_CALLS)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                step()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        sites = sorted({f"{Path(w.filename).name}:{w.lineno}" for w in caught if "synchroniz" in str(w.message)})
        out[name] = {"per_step": calls / steps, "sites": sites}
    out["ok"] = True  # a measurement: BENCHMARKS.md states the figures
    return out


def ct_physics_512(device: torch.device, repeats: int = 2) -> dict:
    """Slices per second of the CT simulations at 512 x 512 on the device (batch of 4 phantoms)."""
    from benchmarks.harness import alternate
    from i2i.medical.phantom import phantoms
    from i2i.medical.physics import low_dose, sparse_view

    hu = phantoms(range(4), 512, seed=1).to(device)
    runners = {"sparse-view 60": lambda: sparse_view(hu, 60), "low-dose full views": lambda: low_dose(hu, 1e5)}
    seconds = alternate(runners, repeats, device)
    return {"ok": True, "slices_per_s": {name: 4 / s for name, s in seconds.items()}}
