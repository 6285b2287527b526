"""A CT model where a reader looks: a trained run applied, as ``i2i eval --data`` applies it,
to a real volume at its native resolution (the model's own physics makes the input from each
slice; slices of another pixel size than the training data's are resampled for the model and
back), scored in clinical windows, with PNGs to look at.

Printed for the input (the FBP or low-dose slice) and the model's output, over all slices of
the volume (pooled over pixels) and per slice:

* heads: brain-band MAE (HU, unclipped, on the pixels whose target is 0-80 HU inside the
  head) and PSNR in the brain window (W 80 / L 40) over those pixels;
* trunks: PSNR and SSIM in the soft-tissue window (W 400 / L 40) inside the body, and the
  mean-HU bias in uniform regions (:func:`i2i.medical.metrics.uniform_regions`);
* every slice: PSNR and SSIM in [-1000, 1000] HU (PSNR inside the field of view), as eval.json.

PNGs (``--png DIR``): for the slice with the most brain (heads) or body (trunks) pixels, input |
output | target in the brain or soft-tissue window and in the bone window (W 2000 / L 500),
whole and a 2x zoom of the centre.

    python -m benchmarks.ct_clinical RUN_DIR ../shared/data/ct/head_cptac_gbm/dicom_series --png out/
    python -m benchmarks.ct_clinical RUN_DIR VOLUME --region trunk --every 4
    python -m benchmarks.ct_clinical RUN_DIR VOLUME --simulate-at-trained-size   # a phantom model at its 1.95 mm
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Subset

from benchmarks.harness import table


class AtTrainedPixelSize(torch.utils.data.Dataset):
    """Slices resampled (area) to the model's trained pixel size before anything else, so the
    physics runs at the size the model was trained at (what ``--simulate-at-trained-size`` scores)."""

    def __init__(self, dataset, trained):
        self.dataset, self.trained = dataset, trained

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        from i2i.inference.pixel_size import target_size

        sample = dict(self.dataset[index])
        spacing = sample["spacing"]
        size = target_size(tuple(sample["target"].shape[-2:]), spacing.tolist(), self.trained)
        if size is not None:
            target = sample["target"][None].clamp_min(-1000.0)
            sample["target"] = torch.nn.functional.interpolate(target, size=size, mode="area")[0]
            sample["spacing"] = spacing * torch.tensor([target.shape[-2] / size[0], target.shape[-1] / size[1]])
        return sample


def apply(run: Path, volume: Path, every: int = 1, ema: bool = True, native: bool = False,
          at_trained_size: bool = False):
    """``(model, [(path, input_hu, output_hu, target_hu), ...])`` for every ``every``-th slice of
    ``volume``: exactly what ``i2i eval RUN --data VOLUME`` scores (one slice a batch), or with
    ``at_trained_size`` the slices resampled to the model's pixel size before the physics."""
    from i2i import load_model
    from i2i.assembly import datapath
    from i2i.data.loader import same_size_batches
    from i2i.evaluation.evaluate import EvalOptions, eval_dataset
    from i2i.evaluation.measure import modes, score_batches
    from i2i.metrics import MetricTable
    from i2i.plugins import get_plugins

    model = load_model(run, ema=ema)
    model = dataclasses.replace(model, recipe=model.recipe.with_data_root(volume))
    plugins = model.plugins or get_plugins()
    _, dataset, _ = eval_dataset(model, EvalOptions(whole_data=True), plugins)
    dataset = Subset(dataset, range(0, len(dataset), every))
    if at_trained_size:
        dataset, native = AtTrainedPixelSize(dataset, model.pixel_range), True
    pipeline = datapath.pipeline(model.recipe, model.task, model.device)
    task, slices = model.task, []
    with modes({"model": model.generator}, False):
        for scored in score_batches(same_size_batches(dataset, 1), pipeline, task, {"model": model.generator},
                                    MetricTable.registered(plugins["metrics"], task), baseline=False,
                                    pixel_range=None if native else model.pixel_range):
            x, y, out = scored.x, scored.y, scored.outputs["model"]
            slices.append((scored.raw["path"][0], task.decode_input(x).cpu(),
                           task.finalize_output(task.decode_output(x, out)).cpu(), task.decode_output(x, y).cpu()))
    return model, slices


def clinical_scores(slices, region: str) -> dict[str, dict[str, float]]:
    """Pooled and per-slice clinical measures of input and output (see the module docstring)."""
    from i2i.medical import metrics as M
    from i2i.medical.fov import fov_mask

    per: dict[str, dict[str, list[float]]] = {"input": {}, "output": {}}
    pooled = {who: {"abs": 0.0, "n": 0} for who in per}

    def add(who: str, name: str, value: torch.Tensor) -> None:
        per[who].setdefault(name, []).append(float(value))

    for _, x, out, y in slices:
        fov = fov_mask(*y.shape[-2:]).view(1, 1, *y.shape[-2:])
        body = M.body_mask(y) & fov
        brain = M.band_mask(y, M.BRAIN_BAND, body)
        regions = M.uniform_regions(y, mask=body) if region == "trunk" else None
        for who, image in (("input", x.clamp_min(-1000.0)), ("output", out)):
            add(who, "psnr_full", M.psnr(image, y, "full", mask=fov)[0])
            add(who, "ssim_full", M.ssim(image, y, "full")[0])
            if region == "head":
                if int(brain.sum()) >= 500:
                    add(who, "brain_mae", M.band_mae(image, y, M.BRAIN_BAND, mask=body)[0])
                    add(who, "brain_psnr", M.psnr(image, y, "brain", mask=brain)[0])
                pooled[who]["abs"] += float((image - y)[brain].double().abs().sum())
                pooled[who]["n"] += int(brain.sum())
            else:
                add(who, "soft_psnr", M.psnr(image, y, "soft_tissue", mask=body)[0])
                add(who, "soft_ssim", M.window_ssim(image, y, "soft_tissue", mask=body)[0])
                if bool(regions.any()):
                    bias = M.uniform_bias(image, y, regions)
                    add(who, "uniform_bias", bias["bias_hu"][0])
                    add(who, "uniform_block_bias", bias["block_bias_hu"][0])
    summary = {}
    for who in per:
        summary[who] = {name: float(np.nanmean(values)) for name, values in per[who].items()}
        if region == "head" and pooled[who]["n"]:
            summary[who]["brain_mae_pooled"] = pooled[who]["abs"] / pooled[who]["n"]
    return summary


def render(slices, region: str, out_dir: Path, tag: str) -> list[Path]:
    """PNGs of the slice with the most brain (head) or body (trunk) pixels."""
    from PIL import Image

    from i2i.medical import metrics as M
    from i2i.medical.hu import apply_window

    def weight(y):
        body = M.body_mask(y)
        return int(M.band_mask(y, M.BRAIN_BAND, body).sum()) if region == "head" else int(body.sum())

    path, x, out, y = max(slices, key=lambda s: weight(s[3]))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for window in ("brain" if region == "head" else "soft_tissue", "bone"):
        row = torch.cat([apply_window(image[0, 0], window) for image in (x, out, y)], dim=1)
        size = y.shape[-1]
        lo, hi = size * 5 // 16, size * 11 // 16  # the centre 3/8 of the slice, zoomed 2x
        zoom = torch.cat([apply_window(image[0, 0, lo:hi, lo:hi], window) for image in (x, out, y)], dim=1)
        zoom = zoom.repeat_interleave(2, 0).repeat_interleave(2, 1)
        for name, picture in (("whole", row), ("zoom", zoom)):
            file = out_dir / f"{tag}_{window}_{name}.png"
            Image.fromarray((picture.numpy() * 255).round().astype(np.uint8)).save(file)
            written.append(file)
    print(f"PNGs of {path} (input | output | target): {', '.join(str(p) for p in written)}")
    return written


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a run directory or checkpoint")
    parser.add_argument("volume", type=Path, help="a real CT volume (DICOM series folder, NIfTI file)")
    parser.add_argument("--region", choices=("head", "trunk"), default="head")
    parser.add_argument("--every", type=int, default=1, help="score every N-th slice")
    parser.add_argument("--no-ema", action="store_true")
    parser.add_argument("--native", action="store_true", help="no resampling to the trained pixel size")
    parser.add_argument("--simulate-at-trained-size", action="store_true",
                        help="resample each slice to the model's trained pixel size before the physics (the "
                             "acquisition the model was trained for), and score there")
    parser.add_argument("--png", type=Path, help="folder for the PNGs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    model, slices = apply(args.run, args.volume, args.every, not args.no_ema, args.native,
                          args.simulate_at_trained_size)
    sizes = sorted({int(s[3].shape[-1]) for s in slices})
    acquisition = model.task.acquisition(sizes)
    scores = clinical_scores(slices, args.region)
    names = list(scores["output"])
    print(f"\n{args.run} on {args.volume} ({len(slices)} slices, {sizes} px): "
          f"{acquisition['description'] if acquisition else 'input as given'}; {time.perf_counter() - start:.0f} s")
    print(table([[who, *(f"{scores[who].get(n, float('nan')):.2f}" for n in names)] for who in ("input", "output")],
                ["", *names]))
    if args.png:
        render(slices, args.region, args.png, args.run.name)
    result = {"run": str(args.run), "volume": str(args.volume), "slices": len(slices), "acquisition": acquisition,
              "scores": scores}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
