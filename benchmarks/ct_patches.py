"""Real CT, patches vs whole slices: training time (validation excluded) until the validation
PSNR of ``recipes/medical_ct_real.toml`` first reaches a target, training on random
128-pixel patches of the simulated 512 x 512 pairs (the recipe) against training on the whole
slices (a patch size above the slice's), same steps, same seed, same validation slices. Both runs
go through ``i2i.train`` in this process, one after the other; the ratio is of the two.

    python -m benchmarks.ct_patches --steps 600 --val-every 100        # minutes per arm on a CPU
    python -m benchmarks.ct_patches --quick                            # smoke run: seconds
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import types
from pathlib import Path

from benchmarks.harness import machine, table


def timed_run(recipe: str, sets: list[str], out: Path) -> list[tuple[int, float, float]]:
    """``(step, training seconds so far, val_psnr)`` at each validation of one run; the time
    counts training steps only (from the first step's end, validation passes left out)."""
    from i2i import hookimpl
    from i2i.workflow.run import train
    from i2i.plugins import load_plugins

    clock = {"last": None, "train": 0.0}
    points: list[tuple[int, float, float]] = []
    timer = types.ModuleType("ct_patches_timer")

    @hookimpl
    def on_step_end(trainer, step, logs):
        now = time.perf_counter()
        if clock["last"] is not None:
            clock["train"] += now - clock["last"]
        clock["last"] = now

    @hookimpl
    def on_validation_end(trainer, step, metrics):
        points.append((step, clock["train"], float(metrics["val_psnr"])))
        clock["last"] = time.perf_counter()  # the validation pass is not training time

    timer.on_step_end, timer.on_validation_end = on_step_end, on_validation_end
    train(recipe, sets, out=out, finish=False, plugins=load_plugins(extra=[("ct_patches_timer", timer)]),
          say=lambda line: None)
    return points


def time_to(points: list[tuple[int, float, float]], target: float) -> float | None:
    """Training seconds at the first validation reaching ``target`` dB, or None."""
    return next((seconds for _, seconds, psnr in points if psnr >= target), None)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ct"))
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--val-every", type=int, default=100)
    parser.add_argument("--target", type=float, help="validation PSNR (dB) to reach (default: the lower of "
                                                     "the two runs' best, so both reach it)")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny network, 4 steps, 2 slices")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: {args.data} is not a folder of CT volumes")
        return {}
    common = [f'source.root="{args.data.resolve().as_posix()}"', f"train.steps={args.steps}",
              f"train.val_every={args.val_every}", f"train.checkpoint_every={args.steps}",
              f"train.sample_every={args.steps}", "train.final_eval=false", "train.log_every=1000000"]
    if args.quick:
        common = [*common[:1], "train.steps=4", "train.val_every=2", "train.checkpoint_every=4",
                  "train.sample_every=4", "train.final_eval=false", "train.val_images=2",
                  "generator.ngf=4", "discriminator.ndf=4", "source.phantom_mix=0", "data.patch_size=64",
                  "data.patches_per_image=2"]
    # a patch larger than the slice takes the slice whole
    arms = {"patches (recipe)": [], "whole slices": ["data.patch_size=100000", "data.patches_per_image=1"]}
    curves = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, extra) in enumerate(arms.items()):
            curves[name] = timed_run("medical_ct_real", [*common, *extra], Path(tmp) / f"arm{i}")
    target = args.target if args.target is not None else min(max(p for _, _, p in c) for c in curves.values())
    times = {name: time_to(points, target) for name, points in curves.items()}
    rows = [[name, *(f"{psnr:.2f} dB @ {seconds:.0f} s" for _, seconds, psnr in points),
             "not reached" if times[name] is None else f"{times[name]:.0f} s"] for name, points in curves.items()]
    steps = [step for step, _, _ in next(iter(curves.values()))]
    print(f"\nReal CT (medical_ct_real), validation PSNR by training time; {machine()}")
    print(table(rows, ["training on", *(f"step {s}" for s in steps), f"time to {target:.2f} dB"]))
    first, second = times.values()
    if first and second:
        print(f"speed ratio (whole slices / patches, time to {target:.2f} dB): {second / first:.2f}")
    result = {"machine": machine(), "target_db": target, "curves": curves, "seconds_to_target": times}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
