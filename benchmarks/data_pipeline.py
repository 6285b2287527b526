"""Data pipeline: decoding (in DataLoader workers) plus the device augmentation, in images/s,
next to the training step's images/s at the same batch size, on the same machine.

    python -m benchmarks.data_pipeline --batch 16 --data ../shared/data/facades/train
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from benchmarks.harness import machine, sync, table
from benchmarks.real_run import plain_images_per_s


def pipeline_images_per_s(data: Path, batch: int, workers: int, batches: int, device: torch.device) -> float:
    from i2i.data.dataset import CheckedDataset
    from i2i.data.loader import collate_samples
    from i2i.data.pipeline import BatchPipeline
    from i2i.assembly.components import build_source, build_task
    from i2i.plugins import get_plugins
    from i2i.recipe import load_recipe

    plugins = get_plugins()
    recipe = load_recipe("recipes/facades.toml", [f'data.root="{data.as_posix()}"'])
    task = build_task(plugins, recipe)
    dataset = CheckedDataset(build_source(plugins, recipe).dataset("train"), task.expected_channels(),
                             recipe.data.preprocess, recipe.data.load_size, recipe.data.crop_size)
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers, collate_fn=collate_samples,
                        drop_last=True, pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    pipeline = BatchPipeline.from_recipe(recipe, task, device)
    iterator = iter(loader)
    pipeline(next(iterator), train=True)  # warm-up (and worker start)
    sync(device)
    start = time.perf_counter()
    for _ in range(batches):
        x, y = pipeline(next(iterator), train=True)
    sync(device)
    assert x.shape == (batch, 3, 256, 256)
    return batches * batch / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/facades/train"))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1, help="training steps timed for the comparison")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    pipeline = {w: pipeline_images_per_s(args.data, args.batch, w, args.batches, device) for w in args.workers}
    step = plain_images_per_s(device, args.steps, args.batch)
    rows = [[f"decode + augment, {w} worker(s)", f"{v:.1f}", f"{v / step:.1f}"] for w, v in pipeline.items()]
    rows.append(["training step (plain loop, fp32)", f"{step:.2f}", "1.0"])
    print(f"\ndata pipeline vs training step, batch {args.batch}, 256x256 crops from the facades JPEGs, {machine()}")
    print(table(rows, ["stage", "images/s", "x training step"]))
    result = {"batch": args.batch, "pipeline_images_per_s": pipeline, "step_images_per_s": step, "machine": machine()}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
