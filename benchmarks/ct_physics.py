"""CT physics on the CPU: slices per second of the sparse-view and low-dose simulations at
128, 256 and 512 pixels; the cost per slice of the clinical settings at 512 x 512 (1/8
sampling, quarter dose) uncached and cached; how strong the streaks of a view count are (PSNR
of the FBP against the clean slice in [-1000, 1000] HU inside the field of view) on phantoms
and real scans; and, with ``--calibrate``, the noise calibration of the full dose
(:mod:`i2i.medical.noise`) on the real scans, and the fast noise against the Poisson noise.

    python -m benchmarks.ct_physics                  # speeds + clinical settings + streak strength
    python -m benchmarks.ct_physics --calibrate      # + the dose calibration (real data)
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


def clinical_settings(size: int, repeats: int) -> dict[str, float]:
    """Seconds per slice at ``size`` px of 1/8 sampling and quarter dose: as the physics ran before
    (no kept grids; Poisson counts and FBP), with the projector's kept grids, with the input kept
    per sample (:class:`i2i.data.input_cache.InputCache`, a hit), and the fast quarter-dose noise
    with its ray variances at twice and at :data:`~i2i.medical.noise.VARIANCE_SIZE` pixels."""
    from fractions import Fraction

    import i2i.medical.noise as noise_module
    import i2i.medical.projector_memory as projector_memory
    from i2i.data.input_cache import InputCache
    from i2i.medical.noise import (
        FULL_DOSE_I0,
        fast_noise,
        inserted_photons,
        poisson_noise,
    )
    from i2i.medical.phantom import phantoms
    from i2i.medical.physics import sparse_view
    from i2i.medical.sampling import full_view_count, views_for

    hu = phantoms(range(1), size, seed=3)
    views, full = views_for(Fraction(1, 8), size), full_view_count(size)
    args = (inserted_photons(torch.tensor([0.25]), FULL_DOSE_I0, torch.tensor([False])), torch.zeros(1), full,
            torch.tensor([250.0 / size]))
    budget = projector_memory.GRID_CACHE_BYTES

    def per_slice(fn) -> float:
        return 1.0 / slices_per_second(lambda h: fn(), hu, repeats)

    try:
        projector_memory.GRID_CACHE_BYTES = 0
        projector_memory.clear_grid_cache()
        plain = per_slice(lambda: sparse_view(hu, views))
        poisson = per_slice(lambda: poisson_noise(hu, *args))
    finally:
        projector_memory.GRID_CACHE_BYTES = budget
    grids = per_slice(lambda: sparse_view(hu, views))
    cache = InputCache()
    batch = {"target": hu, "path": ["slice"]}
    cache.fill(batch, lambda b: sparse_view(b["target"], views))
    kept = per_slice(lambda: cache.fill(batch, lambda b: sparse_view(b["target"], views)))
    coarse = noise_module.VARIANCE_SIZE
    try:
        noise_module.VARIANCE_SIZE = 2 * coarse
        fast_fine = per_slice(lambda: fast_noise(hu, *args))
    finally:
        noise_module.VARIANCE_SIZE = coarse
    fast = per_slice(lambda: fast_noise(hu, *args))
    return {f"1/8 sampling ({views} views)": {"as before": plain, "projector grids kept": grids,
                                               "input kept per slice (InputCache hit)": kept},
            f"quarter dose ({full} views)": {"as before: Poisson counts + FBP": poisson,
                                             f"fast noise, ray variances at {2 * coarse} px (before)": fast_fine,
                                             f"fast noise, ray variances at {coarse} px": fast}}


def calibration(root: Path, names: list[str]) -> list[list[str]]:
    """Per real volume: its own noise, the simulated full-dose noise at ``FULL_DOSE_I0`` (fast),
    the count that would match, and the fast noise against the Poisson noise on one slice."""
    import torch.nn.functional as F

    from i2i.medical import metrics as M
    from i2i.medical.noise import FULL_DOSE_I0, fast_noise, poisson_noise
    from i2i.medical.physics import mask_outside_circle
    from i2i.medical.sampling import full_view_count
    from i2i.plugins import get_plugins

    def block_std(image: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        mean = F.avg_pool2d(image.double(), M.UNIFORM_BLOCK)
        return (F.avg_pool2d(image.double() ** 2, M.UNIFORM_BLOCK) - mean ** 2).clamp_min(0).sqrt()[regions]

    rows = []
    for name in names:
        if not (root / name).exists():
            continue
        dataset = get_plugins()["sources"].build("ct", {}, root=str(root / name)).dataset("train")
        own, sim, check = [], [], []
        for k, i in enumerate((len(dataset) // 3, len(dataset) // 2, 2 * len(dataset) // 3)):
            sample = dataset[i]
            hu = mask_outside_circle(sample["target"][None].clamp_min(-1000.0))
            regions = M.uniform_regions(hu)
            args = (torch.tensor([FULL_DOSE_I0]), torch.zeros(1), full_view_count(hu.shape[-1]),
                    sample["spacing"].mean().reshape(1))
            noise = fast_noise(hu, *args, generator=torch.Generator().manual_seed(i))
            own.append(block_std(hu, regions).median())
            sim.append(block_std(noise, regions).median())
            if k == 0:
                body = M.body_mask(hu)
                exact = poisson_noise(hu, *args, generator=torch.Generator().manual_seed(i))
                check.append(float(noise[body].std() / exact[body].std()))
        own_hu, sim_hu = float(torch.stack(own).mean()), float(torch.stack(sim).mean())
        rows.append([name, f"{dataset.spacing_of(0)[0]:.2f}", f"{own_hu:.1f}", f"{sim_hu:.1f}",
                     f"{FULL_DOSE_I0 * (sim_hu / own_hu) ** 2:.2g}", f"{check[0]:.3f}"])
    return rows


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
    parser.add_argument("--calibrate", action="store_true", help="the full-dose noise calibration on real scans")
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

    clinical_size = 64 if args.quick else 512
    settings = clinical_settings(clinical_size, repeats)
    results["clinical"] = settings
    print(f"\nClinical settings at {clinical_size} x {clinical_size}, milliseconds per slice (batch of 1)")
    print(table([[group, way, f"{1000 * seconds:.1f}", f"{next(iter(ways.values())) / seconds:.1f}x"]
                 for group, ways in settings.items() for way, seconds in ways.items()],
                ["physics", "how", "ms / slice", "speed-up"]))
    if args.calibrate and args.data.is_dir():
        names = ["pancreas/dicom_series", "head_cptac_gbm/dicom_series", "totalsegmentator/dicom_series",
                 "head_gantry_tilt/dicom_series", "abdomen_pelvis_acrin/dicom_series"]
        rows = calibration(args.data, names)
        results["calibration"] = rows
        print("\nFull-dose noise calibration: median std (HU) of uniform 8 x 8 soft-tissue blocks, own vs simulated "
              "at FULL_DOSE_I0 (fast noise), the count matching the own noise, fast / Poisson body noise std")
        print(table(rows, ["volume", "pixel mm", "own noise", "simulated", "matching I0", "fast / Poisson"]))
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
