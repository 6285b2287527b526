"""Inference: images/s and peak memory of ``i2i predict``'s engine (padding, tiling,
blending) against a plain ``generator(x)`` under ``torch.no_grad()``, same weights, at
256 x 256 (a batch), 1024 x 1024 and a 4096 x 4096 image, which i2i predicts in blended
1024-pixel tiles. Each case runs in a fresh process so its peak memory is its own: peak
resident memory above the process's level after building the model (Linux VmHWM, reset
through /proc/self/clear_refs), or CUDA's max_memory_allocated on a GPU.

    python -m benchmarks.inference [--ngf 64] [--sizes 256 1024 4096]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.harness import machine, table

ROOT = Path(__file__).resolve().parents[1]
#: (image side, images per call) of each case.
BATCH_AT = {256: 8}


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated() / 2**20
    Path("/proc/self/clear_refs").write_text("5")
    return _rss_mib("VmRSS")


def _peak(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**20
    return _rss_mib("VmHWM")


def one_case(kind: str, side: int, ngf: int, tile: int, device_name: str, repeats: int) -> dict:
    """Run in the child process: build unet_256, time ``repeats`` calls, report peak memory."""
    from i2i.inference.model import LoadedModel
    from i2i.inference.predict import Predictor, PredictOptions
    from i2i.nn.sizing import forward_any_size
    from i2i.plugins import get_plugins
    from i2i.recipe import resolve

    from i2i.devices import configure_device

    device = torch.device(device_name)
    configure_device(device)  # both sides: i2i sets it when predicting; the comparison is of the engine
    plugins = get_plugins()
    recipe = resolve("<benchmark>", {"task": {"name": "paired"}, "generator": {"name": "unet_256", "ngf": ngf},
                                     "data": {"root": "/nonexistent"}, "train": {"steps": 1}}, {}, None, plugins)
    from i2i.assembly import components as B

    task = B.build_task(plugins, recipe)
    generator = B.build_generator(plugins, recipe, task).to(device).eval()
    batch = BATCH_AT.get(side, 1)
    image = torch.randint(0, 256, (3, side, side), dtype=torch.uint8)
    if kind == "i2i":
        model = LoadedModel(recipe, task, generator, Path("<memory>"), None, device)
        predictor = Predictor(model, PredictOptions(tile=tile, overlap=tile // 4, batch_size=batch))

        def run():
            if batch == 1:
                predictor.predict(image)
            else:
                from i2i.inference.formats import Decoded

                for _ in predictor.stream(Decoded(Path(f"{i}"), image) for i in range(batch)):
                    pass
    else:
        x = (image.float() / 127.5 - 1).expand(batch, -1, -1, -1).contiguous().to(device)

        @torch.no_grad()
        def run():
            forward_any_size(generator, x).float().cpu()

    base = _reset_peak(device)
    times = []
    if side > 1024:  # one call is long enough to time, and gives the peak
        repeats = 0
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    else:
        run()  # warm-up, and the peak
    peak = _peak(device) - base
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = sorted(times)[len(times) // 2]
    return {"kind": kind, "side": side, "batch": batch, "images_per_s": batch / seconds, "peak_mib": peak,
            "tiled": kind == "i2i" and side > tile}


def case(kind: str, side: int, ngf: int, tile: int, device: str, repeats: int) -> dict:
    code = ("import json, sys; from benchmarks.inference import one_case; "
            f"print(json.dumps(one_case({kind!r}, {side}, {ngf}, {tile}, {device!r}, {repeats})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"inference case {kind} {side}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--ngf", type=int, default=64, help="unet_256 base channels (64: the reference)")
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--plain-max", type=int, default=4096, help="largest side the plain untiled run is measured at")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows, results = [], []
    for side in args.sizes:
        repeats = args.repeats if side <= 1024 else 1
        ours = case("i2i", side, args.ngf, args.tile, args.device, repeats)
        plain = case("plain", side, args.ngf, args.tile, args.device, repeats) if side <= args.plain_max else None
        results.append({"i2i": ours, "plain": plain})
        label = f"{side}x{side}" + (f" (batch {ours['batch']})" if ours["batch"] > 1 else "") + \
            (f", i2i tiled {args.tile}" if ours["tiled"] else "")
        rows.append([label, f"{ours['images_per_s']:.3g}", f"{plain['images_per_s']:.3g}" if plain else "-",
                     f"{ours['images_per_s'] / plain['images_per_s']:.2f}" if plain else "-",
                     f"{ours['peak_mib']:.0f}", f"{plain['peak_mib']:.0f}" if plain else "-",
                     f"{ours['peak_mib'] / plain['peak_mib']:.2f}" if plain else "-"])
    print(f"\ninference, unet_256 ngf {args.ngf}, {args.device}, {machine()}")
    print(table(rows, ["image", "i2i images/s", "plain images/s", "speed ratio", "i2i peak MiB",
                       "plain peak MiB", "memory ratio"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
