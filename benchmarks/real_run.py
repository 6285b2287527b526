"""A real ``i2i run`` of the facades recipe (JPEG decoding, resizing, device augmentation,
logging and all) against the plain PyTorch loop on pre-loaded tensors, in one process:
plain, i2i, plain again; the ratio uses the mean of the two plain measurements.

    python -m benchmarks.real_run --steps 12 --data ../shared/data/facades/train
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import types
from pathlib import Path

import torch

from benchmarks.harness import machine, sync, table
from benchmarks.plain_pix2pix import PlainPix2Pix


def plain_images_per_s(device: torch.device, steps: int, batch: int, ngf: int = 64, size: int = 256) -> float:
    torch.manual_seed(0)
    loop = PlainPix2Pix(device, ngf)
    a = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    b = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    loop.step(a, b)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        loop.step(a, b)
    sync(device)
    return steps * batch / (time.perf_counter() - start)


def i2i_images_per_s(data: Path, device: torch.device, steps: int, warmup: int, batch: int,
                     sets: list[str]) -> float:
    """images/s of a facades run between its ``warmup``-th and ``warmup + steps``-th step (timed by an
    event plugin); the run goes one step further so that its end (the final checkpoint, 230 MB
    written and fsynced, and sample grid, amortised over a real run's 80,000 steps) stays outside."""
    from i2i import hookimpl
    from i2i.runs.rundir import create_run_dir
    from i2i.engine.trainer import Trainer
    from i2i.plugins import load_plugins
    from i2i.recipe import load_recipe

    stamps: dict[int, float] = {}
    timer = types.ModuleType("timer")

    @hookimpl
    def on_step_end(trainer, step, logs):
        sync(trainer.device)
        stamps[step] = time.perf_counter()

    timer.on_step_end = on_step_end
    plugins = load_plugins(extra=[("timer", timer)])
    with tempfile.TemporaryDirectory() as tmp:
        out = create_run_dir(Path(tmp) / "run")
        recipe = load_recipe("recipes/facades.toml", [f'data.root="{data.as_posix()}"', f"train.steps={warmup + steps + 1}",
                                                      f"train.batch_size={batch}", f'run.out="{out.as_posix()}"', "train.final_eval=false",
                                                      *sets],
                             plugins)
        Trainer(recipe, out, plugins, device, show_progress=False).fit()
    return steps * batch / (stamps[warmup + steps] - stamps[warmup])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/facades/train"))
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="extra recipe overrides for i2i")
    parser.add_argument("--plain-ngf", type=int, default=64, help="smoke runs only: the plain loop's width")
    parser.add_argument("--plain-size", type=int, default=256, help="smoke runs only: the plain loop's image size")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        raise SystemExit(f"{args.data}: facades data not found (pass --data)")
    device = torch.device(args.device)
    before = plain_images_per_s(device, args.steps, args.batch, args.plain_ngf, args.plain_size)
    ours = i2i_images_per_s(args.data, device, args.steps, args.warmup, args.batch, args.sets)
    after = plain_images_per_s(device, args.steps, args.batch, args.plain_ngf, args.plain_size)
    plain = (before + after) / 2
    result = {"batch": args.batch, "plain_images_per_s": [before, after], "i2i_images_per_s": ours,
              "ratio": ours / plain, "machine": machine()}
    print(f"\nreal i2i run of recipes/facades.toml (decoding + augmentation included) vs plain loop on "
          f"pre-loaded tensors, batch {args.batch}, {machine()}")
    print(table([["plain PyTorch (before)", f"{before:.3f}", "1.00"], ["i2i run", f"{ours:.3f}", f"{ours / plain:.2f}"],
                 ["plain PyTorch (after)", f"{after:.3f}", "1.00"]], ["implementation", "images/s", "ratio"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
