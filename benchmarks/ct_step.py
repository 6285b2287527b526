"""CT training step: the generator and losses of a CT recipe (default ``medical_ct_real``)
through i2i's training step in fp32 and in bf16 autocast, each with and without channels-last
memory, against a plain PyTorch loop of the same network and losses in fp32, in one process,
alternating repeats, medians. The batch is the recipe's (slices x one patch each) of synthetic
images in the task's units, so the physics and the data pipeline are not timed (the recipe
caches the inputs after the first epoch).
bf16 rows only where the device computes bf16 natively (CPUs with AMX-BF16 or AVX512-BF16,
GPUs of compute capability 8.0 and up): emulated, it is tens of times slower.

    python -m benchmarks.ct_step --repeats 5
    python -m benchmarks.ct_step --quick          # smoke run: a tiny network, seconds
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from benchmarks.harness import alternate, machine, table
from i2i.engine.precision import native_bf16


def build_parts(recipe_name: str, sets: list[str], device: torch.device, steps: int):
    """The recipe's training parts (generator, losses, optimiser, step) without its data."""
    from i2i.assembly import components as C
    from i2i.engine.distributed import DistInfo
    from i2i.engine.parts import TrainingParts
    from i2i.plugins import get_plugins
    from i2i.recipe import load_recipe
    from i2i.recipe.named import recipe_file

    plugins = get_plugins()
    recipe = load_recipe(recipe_file(recipe_name, plugins), sets, plugins)
    task = C.build_task(plugins, recipe)
    torch.manual_seed(0)
    return recipe, TrainingParts.build(recipe, plugins, task, device, DistInfo(), steps, resuming=False)


def plain_loop(recipe, device: torch.device):
    """One fp32 step of a plain PyTorch loop: the same generator, Adam, 100 x L1 plus 100 x L1
    inside the recipe's clipped window (the recipe's two loss terms, written out)."""
    from i2i.assembly import components as C
    from i2i.plugins import get_plugins

    plugins = get_plugins()
    torch.manual_seed(0)
    net = C.build_generator(plugins, recipe, C.build_task(plugins, recipe)).to(device)
    assert recipe.optim.name == "adam" and {term.name for term in recipe.losses} <= {"l1", "clipped_l1"}
    optimiser = torch.optim.Adam(net.parameters(), **recipe.optim.for_network("g"))
    clips = [(term.options["low"], term.options["high"], term.weight) for term in recipe.losses
             if term.name == "clipped_l1"]
    l1 = sum(term.weight for term in recipe.losses if term.name == "l1")

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        optimiser.zero_grad(set_to_none=True)
        out = net(x)
        loss = l1 * (out - y).abs().mean()
        for low, high, weight in clips:
            loss = loss + weight * (out.clamp(low, high) - y.clamp(low, high)).abs().mean()
        loss.backward()
        optimiser.step()

    return net, step


def measure(recipe_name: str, device: torch.device, repeats: int, steps: int, quick: bool) -> dict:
    small = ["generator.ngf=4", "generator.depth=3", "data.patch_size=32"] if quick else []
    variants = {"i2i fp32": ['train.precision="fp32"', 'train.channels_last="off"'],
                "i2i fp32 + channels_last": ['train.precision="fp32"', 'train.channels_last="on"']}
    if native_bf16(device):
        variants["i2i bf16"] = ['train.precision="bf16"', 'train.channels_last="off"']
        variants["i2i bf16 + channels_last"] = ['train.precision="bf16"', 'train.channels_last="on"']
    built = {name: build_parts(recipe_name, [*small, *sets], device, steps) for name, sets in variants.items()}
    recipe = next(iter(built.values()))[0]
    batch, size = recipe.train.batch_size, recipe.data.patch_size
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, 1, size, size, generator=g) * 0.6 - 0.9).to(device)  # about -820..410 HU
    y = (x + 0.02 * torch.randn(batch, 1, size, size, generator=g).to(device)).clamp(-1, 1)
    nhwc = {"x": x.contiguous(memory_format=torch.channels_last), "y": y.contiguous(memory_format=torch.channels_last)}
    net, plain = plain_loop(recipe, device)
    runners = {"plain PyTorch fp32": lambda: [plain(x, y) for _ in range(steps)]}
    for name, (_, parts) in built.items():
        assert sum(p.numel() for p in parts.generator.parameters()) == sum(p.numel() for p in net.parameters())
        a, b = (nhwc["x"], nhwc["y"]) if parts.channels_last else (x, y)  # as i2i's data path hands them over
        runners[name] = lambda parts=parts, a=a, b=b: [parts.gan_step([(a, b)]) for _ in range(steps)]
    seconds = alternate(runners, repeats, device)
    per_step = {name: s / steps for name, s in seconds.items()}
    base = per_step["plain PyTorch fp32"]
    return {"recipe": recipe_name, "batch": batch, "patch": size, "seconds_per_step": per_step,
            "speed_vs_plain": {name: base / s for name, s in per_step.items()}, "machine": machine()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", default="medical_ct_real")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per timed call")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="smoke run: a tiny network, one repeat")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    result = measure(args.recipe, device, 1 if args.quick else args.repeats, 1 if args.quick else args.steps, args.quick)
    rows = [[name, f"{s:.3f}", f"{result['speed_vs_plain'][name]:.2f}"] for name, s in result["seconds_per_step"].items()]
    print(f"\nCT training step, {args.recipe}: {result['batch']} x {result['patch']}-px patches, {result['machine']}"
          + ("" if native_bf16(device) else "; no bf16 row: bf16 is not native on this device"))
    print(table(rows, ["implementation", "s/step", "speed vs plain fp32"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
