"""The whole benchmark suite in one command (about 10 minutes on a 2-core CPU):

    python -m benchmarks.run_all [--quick] [--out DIR]

1. training step, batch 1 and 16 at 256x256: i2i vs the plain PyTorch pix2pix loop;
2. a real ``i2i run`` of recipes/facades.toml (decoding and augmentation included) vs the
   plain loop on pre-loaded tensors, batch 1;
3. data pipeline: decode + device augmentation images/s vs the training step;
4. inference at 256, 1024 and a tiled 4096 image: images/s and peak memory.

Every comparison is measured in one process run, side by side; the printed ratios are the
result. ``--quick`` is the smoke run CI uses: tiny networks and sizes, one repeat (its
numbers mean nothing). Results go to ``DIR/*.json`` when ``--out`` is given.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks import data_pipeline, inference, real_run, train_step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, one repeat")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/facades/train"))
    parser.add_argument("--out", type=Path, help="folder for the JSON results")
    args = parser.parse_args(argv)
    out = args.out
    if out:
        out.mkdir(parents=True, exist_ok=True)

    def json_arg(name: str) -> list[str]:
        return ["--json", str(out / f"{name}.json")] if out else []

    start = time.perf_counter()
    if args.quick:
        train_step.main(["--batch", "1", "2", "--ngf", "8", "--repeats", "1", "--steps", "1", *json_arg("train_step")])
        if args.data.is_dir():
            real_run.main(["--data", str(args.data), "--steps", "2", "--warmup", "1", "--set", "generator.ngf=8",
                           "--set", "discriminator.ndf=8", "--plain-ngf", "8", *json_arg("real_run")])
            data_pipeline.main(["--data", str(args.data), "--batch", "2", "--workers", "0", "--batches", "2",
                                *json_arg("data_pipeline")])
        inference.main(["--sizes", "64", "300", "--ngf", "8", "--tile", "128", "--repeats", "1", *json_arg("inference")])
    else:
        train_step.main(["--batch", "1", "16", *json_arg("train_step")])
        if args.data.is_dir():
            real_run.main(["--data", str(args.data), *json_arg("real_run")])
            data_pipeline.main(["--data", str(args.data), *json_arg("data_pipeline")])
        else:
            print(f"\n{args.data}: facades not found; the real-run and data-pipeline benchmarks are skipped")
        inference.main(json_arg("inference"))
    print(f"\nsuite finished in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
