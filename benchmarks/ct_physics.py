"""CT physics on the CPU: slices per second of the sparse-view and low-dose simulations at
128, 256 and 512 pixels, and how strong the streaks of a view count are (PSNR of the FBP
against the clean slice in [-1000, 1000] HU inside the field of view) on the built-in
phantoms and on real scans, to choose view counts that give equal streak strength at
another resolution.

    python -m benchmarks.ct_physics                  # speeds + streak strength (real data when present)
    python -m benchmarks.ct_physics --quick          # smoke test: tiny sizes, seconds
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchmarks.harness import table


def slices_per_second(fn, hu: torch.Tensor, repeats: int) -> float:
    fn(hu)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn(hu)
    return repeats * hu.shape[0] / (time.perf_counter() - start)


def fbp_psnr(hu: torch.Tensor, views: int) -> float:
    """Mean PSNR (dB) of ``views``-view FBPs of clean slices ``hu`` in the full window, in the FOV."""
    from i2i.medical import metrics as M
    from i2i.medical.fov import circle_mask
    from i2i.medical.physics import mask_outside_circle, sparse_view

    clean = mask_outside_circle(hu.clamp_min(-1000.0))
    fbp = sparse_view(clean, views).clamp_min(-1000.0)
    fov = circle_mask(hu.shape[-1]).view(1, 1, *hu.shape[-2:])
    return float(M.psnr(fbp, clean, "full", mask=fov).mean())


def real_slices(root: Path, per_volume: int, size: int | None) -> dict[str, torch.Tensor]:
    """A few evenly spread slices of each real volume under ``root`` (HU, square), by volume."""
    from i2i.plugins import get_plugins

    dataset = get_plugins()["sources"].build("ct", {}, root=str(root)).dataset("train")
    by_volume: dict[str, list[int]] = {}
    for i, group in enumerate(dataset.groups):
        by_volume.setdefault(group, []).append(i)
    out = {}
    for group, indices in by_volume.items():
        picks = indices[len(indices) // (per_volume + 1)::max(1, len(indices) // (per_volume + 1))][:per_volume]
        slices = torch.stack([dataset[i]["target"] for i in picks])
        if size is not None:
            slices = torch.nn.functional.interpolate(slices, size=(size, size), mode="area")
        out[f"{group} ({tuple(slices.shape[-2:])[0]} px, {dataset.spacing_of(picks[0])[0]:.2f} mm)"] = slices
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ct"))
    args = parser.parse_args(argv)
    from i2i.medical.phantom import phantoms
    from i2i.medical.physics import low_dose, sparse_view

    torch.set_num_threads(torch.get_num_threads())
    sizes, repeats = ((32, 64), 1) if args.quick else ((128, 256, 512), 3)
    speed_rows, results = [], {"speed": {}, "streaks": {}}
    for size in sizes:
        hu = phantoms(range(4), size, seed=1)
        cases = {"sparse-view 8": lambda h: sparse_view(h, 8), "sparse-view 32": lambda h: sparse_view(h, 32),
                 "low-dose full views": lambda h: low_dose(h, 1e5)}
        speeds = {name: slices_per_second(fn, hu, repeats) for name, fn in cases.items()}
        results["speed"][size] = speeds
        speed_rows.append([f"{size} x {size}", *(f"{v:.1f}" for v in speeds.values())])
    print(f"\nCT physics, slices/s on {torch.get_num_threads()} CPU thread(s) (batch of 4)")
    print(table(speed_rows, ["slice", *cases]))

    views = (4, 8) if args.quick else (8, 16, 24, 32, 48, 64, 96)
    sets = {f"phantoms ({s} px)": phantoms(range(16 if not args.quick else 2), s, seed=2) for s in sizes[:2]}
    if args.data.is_dir() and not args.quick:
        sets.update(real_slices(args.data, 6, None))
    rows = []
    for name, hu in sets.items():
        scores = {v: fbp_psnr(hu, v) for v in views}
        results["streaks"][name] = scores
        rows.append([name, *(f"{scores[v]:.1f}" for v in views)])
    print("\nFBP PSNR (dB) in [-1000, 1000] HU inside the field of view, by view count")
    print(table(rows, ["slices", *(f"{v} views" for v in views)]))
    return results


if __name__ == "__main__":
    main()
