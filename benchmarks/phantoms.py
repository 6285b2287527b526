"""Phantom drawing speed: milliseconds per phantom (drawing its anatomy in mm and
rasterising it) per region and image size, on this CPU, one process, one phantom at a
time as a dataset item is drawn; and what a training set of that size costs.

    python -m benchmarks.phantoms --sizes 128 256 512 --count 40 --json phantoms.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from benchmarks.harness import machine, table


def ms_per_phantom(region: str | None, size: int, count: int, seed: int = 0) -> dict[str, float]:
    """Median and mean ms per phantom over ``count`` phantoms of ``region`` (None: the
    default mix) at ``size`` pixels, and the share of it spent drawing (not rasterising)."""
    from i2i.medical.phantom import phantom_scene, render

    regions = None if region is None else [region]
    render(phantom_scene(seed, 0, regions), size)  # warm-up
    total, drawing = [], []
    for i in range(count):
        start = time.perf_counter()
        scene = phantom_scene(seed, i, regions)
        drawn = time.perf_counter()
        render(scene, size)
        end = time.perf_counter()
        total.append(end - start)
        drawing.append(drawn - start)
    return {"median_ms": 1000 * statistics.median(total), "mean_ms": 1000 * statistics.fmean(total),
            "drawing_ms": 1000 * statistics.fmean(drawing)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--regions", nargs="+", default=["mix", "head", "thorax", "abdomen", "pelvis"])
    parser.add_argument("--count", type=int, default=40, help="phantoms timed per region and size")
    parser.add_argument("--set-size", type=int, default=4096, help="training-set size to cost")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = []
    for size in args.sizes:
        for region in args.regions:
            r = ms_per_phantom(None if region == "mix" else region, size, args.count)
            rows.append({"size": size, "region": region, **r,
                         "set_minutes": r["mean_ms"] * args.set_size / 60_000})
    print(machine())
    print(table([[r["size"], r["region"], f"{r['median_ms']:.1f}", f"{r['mean_ms']:.1f}", f"{r['drawing_ms']:.1f}",
                  f"{r['set_minutes']:.2f}"] for r in rows],
                ["size", "region", "median ms", "mean ms", "of it drawing ms", f"{args.set_size} phantoms, min"]))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
