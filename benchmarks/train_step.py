"""Training step: i2i's full step against the plain PyTorch pix2pix loop, same architecture
(U-Net 256 + 70x70 PatchGAN, batch norm, Adam, vanilla GAN + 100 x L1), same process,
alternating repeats, medians. i2i's step includes its device pipeline (random crop, flip,
normalisation) on a decoded uint8 batch already on the device; the plain loop gets
ready-made float tensors.

    python -m benchmarks.train_step --batch 1 16 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from benchmarks.harness import alternate, machine, matmul_rate, table
from benchmarks.plain_pix2pix import PlainPix2Pix
from i2i.engine.precision import cpu_native_bf16

RECIPE = """
[source]
name = "aligned"
root = "{root}"
[data]
preprocess = "crop"
crop_size = {size}
[generator]
name = "unet_256"
ngf = {ngf}
[discriminator]
name = "patchgan"
ndf = {ngf}
[train]
steps = 1
batch_size = {batch}
"""


def synthetic_root(folder: Path, size: int) -> Path:
    """One A|B JPEG so a Trainer can be built without real data (the step gets its own batch)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (2 * size, size), (120, 80, 40)).save(folder / "0.jpg")
    Image.new("RGB", (2 * size, size), (10, 200, 90)).save(folder / "1.jpg")
    return folder


def build_i2i(batch: int, size: int, ngf: int, device: torch.device, sets: list[str], folder: Path):
    from i2i.engine.trainer import Trainer
    from i2i.plugins import get_plugins
    from i2i.recipe import load_recipe

    path = folder / f"b{batch}.toml"
    path.write_text(RECIPE.format(root=synthetic_root(folder, size).as_posix(), size=size, ngf=ngf, batch=min(batch, 2)))
    recipe = load_recipe(path, [*sets, f"train.batch_size={min(batch, 2)}", f'run.out="{(folder / "run").as_posix()}"'])
    return Trainer(recipe, folder / "run", get_plugins(), device, show_progress=False)


def measure(batch: int, size: int, ngf: int, device: torch.device, repeats: int, steps: int,
            variants: dict[str, list[str]]) -> dict:
    torch.manual_seed(0)
    raw = {"input": torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device),
           "target": torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device)}
    a, b = (raw["input"].float() / 127.5 - 1), (raw["target"].float() / 127.5 - 1)
    plain = PlainPix2Pix(device, ngf)
    runners = {}
    if plain is not None:
        runners["plain PyTorch"] = lambda: [plain.step(a, b) for _ in range(steps)]
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {}
        for name, sets in variants.items():
            trainer = build_i2i(batch, size, ngf, device, sets, Path(tmp) / f"variant{len(trainers)}")
            trainers[name] = trainer

            def run(t=trainer):
                for _ in range(steps):
                    t.parts.gan_step([t.data.prepare(raw, train=True)])

            runners[f"i2i {name}"] = run
        if plain is not None:
            i2i_params = sum(p.numel() for p in next(iter(trainers.values())).generator.parameters())
            assert i2i_params == sum(p.numel() for p in plain.G.parameters()), "architectures differ"
        seconds = alternate(runners, repeats, device)
        flops = flops_per_image(next(iter(trainers.values())), raw, batch)
    per_s = {name: steps * batch / s for name, s in seconds.items()}
    base = per_s.get("plain PyTorch")
    # the ceiling: bf16 matmuls on a GPU (the yardstick), fp32 on a CPU (bf16 is emulated there)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    rate = matmul_rate(device, dtype, n=8192 if device.type == "cuda" else 2048)
    return {"batch": batch, "size": size, "images_per_s": per_s, "flops_per_image": flops,
            "ratio": {name: v / base for name, v in per_s.items()} if base else {},
            "matmul_flops_per_s": rate, "matmul_dtype": str(dtype).removeprefix("torch."),
            "fraction_of_matmul_rate": {name: v * flops / rate for name, v in per_s.items()}}


def flops_per_image(trainer, raw, batch: int) -> float:
    """Forward + backward FLOPs of one training step per image (torch's flop counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        trainer.parts.gan_step([trainer.data.prepare(raw, train=True)])
    return counter.get_total_flops() / batch


def variants_for(device: torch.device, compile_too: bool) -> dict[str, list[str]]:
    if device.type == "cuda":
        out = {"fp32": ['train.precision="fp32"', 'train.channels_last="off"'],
               "bf16+channels_last": ['train.precision="bf16"', 'train.channels_last="on"']}
        if compile_too:
            out["bf16+channels_last+compile"] = ['train.precision="bf16"', 'train.channels_last="on"',
                                                 "train.compile=true"]
        return out
    out = {"default (fp32)": [], "channels_last": ['train.channels_last="on"']}
    if cpu_native_bf16():
        out["bf16"] = ['train.precision="bf16"']
    if compile_too:
        out["compile"] = ["train.compile=true"]
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--ngf", type=int, default=64, help="64 is the reference; smaller only for smoke runs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="steps per timed call")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (slow to build)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    results = []
    for batch in args.batch:
        steps = max(1, args.steps // (4 if batch >= 8 and device.type == "cpu" else 1))
        result = measure(batch, args.size, args.ngf, device, args.repeats, steps, variants_for(device, args.compile))
        results.append(result)
        rows = [[name, f"{v:.3f}", f"{result['ratio'].get(name, float('nan')):.2f}",
                 f"{result['fraction_of_matmul_rate'][name]:.1%}"] for name, v in result["images_per_s"].items()]
        print(f"\ntraining step, batch {batch}, {args.size}x{args.size}, {machine()}; "
              f"{result['flops_per_image'] / 1e9:.1f} GFLOP per image (forward + backward, G and D); "
              f"measured {result['matmul_dtype']} matmul rate {result['matmul_flops_per_s'] / 1e9:.0f} GFLOP/s")
        print(table(rows, ["implementation", "images/s", "ratio vs plain", "of matmul rate"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
