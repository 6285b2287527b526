"""``i2i eval``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from i2i.cli.options import loaded_plugins, pair_series_options, pairs_override, series_option, series_override


@click.command("eval")
@click.argument("checkpoint", type=click.Path(exists=True))
@click.option("--data", "data_root", type=click.Path(exists=True),
              help="Data to score (overrides the recipe's data.root): a folder with train/ val/ test/ split folders "
                   "(its test split is scored, else val), or a folder of pairs (or volumes) scored whole.")
@click.option("--split", help="Split to evaluate: test, val or train (default: test, else val, else train with a "
                              "warning; with --data and no split folders: every sample).")
@click.option("--frame", type=click.Choice(["full", "crop"]),
              help="What is scored: full = the whole image at the training scale (the pix2pix test protocol), "
                   "crop = the centre training crop (default: the recipe's train.eval_frame, normally full).")
@click.option("--split-from", "split_from", type=click.Path(exists=True, file_okay=False), metavar="RUN",
              help="Score the held-out split of another run directory RUN (its source, data.root, hold-out "
                   "fractions and seed) with this checkpoint, e.g. the shipped model on a fine-tuned run's test "
                   "split; inputs are made with the checkpoint's own task.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="JSON summary to write; the per-image CSV goes beside it with the suffix .csv. Default: "
                   "RUN_DIR/eval.json for the run's own data; with --data or --split-from, "
                   "RUN_DIR/evals/NAME/eval.json (NAME: the data folder's or the other run's name), so the run's "
                   "own eval.json is never overwritten (./ instead of RUN_DIR/ for a checkpoint outside a run).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--max-images", type=click.IntRange(min=1), help="Evaluate only the first N images of the split.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True)
@click.option("--native", is_flag=True,
              help="Run the model at the images' own pixel size even where it differs from the pixel sizes it was "
                   "trained at (default: resample those images for the model and back).")
@click.option("--no-ema", is_flag=True, help="Use the raw generator weights even when the checkpoint has EMA weights.")
@click.option("--train-mode", is_flag=True, help="Run the generator in training mode (dropout on, batch statistics).")
@click.option("--inception", type=click.Path(), metavar="FILE",
              help="torchvision Inception-v3 weights (inception_v3_google-*.pth or .safetensors): adds FID and KID.")
@click.option("--lpips", type=click.Path(), metavar="FILE",
              help="torchvision backbone weights for LPIPS (alexnet-*.pth for --lpips-net alex).")
@click.option("--lpips-net", type=click.Choice(["alex", "vgg", "squeeze"]), default="alex", show_default=True)
@series_option
@pair_series_options
@click.option("--quiet", is_flag=True, help="Print only the output paths.")
def eval_command(checkpoint: str, data_root: str | None, split: str | None, frame: str | None,
                 split_from: str | None, out_file: str | None, batch_size: int,
                 max_images: int | None, device: str, precision: str, native: bool, no_ema: bool, train_mode: bool,
                 inception: str | None, lpips: str | None, lpips_net: str, series: tuple[str, ...],
                 input_series: str | None, target_series: str | None, quiet: bool) -> None:
    """Measure the generator of CHECKPOINT on held-out pairs, and the input itself as the
    identity baseline (where input and target share a space).

    \b
    Pairs are built exactly as in training (same source, splits and task); each image is
    scored on its full frame at the training scale, inputs the task makes are drawn per
    image (the numbers do not depend on --batch-size), and eval.json records the protocol.
    With --input-series and --target-series, --data holds real pairs (a low-dose and a
    full-dose series of each patient, say), paired slice by slice by position: the inputs
    are the scanner's, nothing is simulated.
    Metrics per image: mae (L1), psnr, ssim, ms_ssim and the task's own; with --inception
    FID and KID, with --lpips LPIPS (local weights only: nothing is downloaded).
    Writes a JSON summary (mean, std, min, max per metric) and a per-image CSV.
    """
    from i2i.devices import check_precision, pick_device
    from i2i.errors import UsageError
    from i2i.evaluation.evaluate import EvalOptions, evaluate
    from i2i.evaluation.summary import default_output, metric_gaps, write_result
    from i2i.inference.model import load_model, with_data_from
    from i2i.resources import resource_errors

    if data_root and split_from:
        raise UsageError("--data and --split-from both name the data to score; give one")
    torch_device = pick_device(device)
    check_precision(precision, torch_device)
    overrides = {**({"data": {"root": str(Path(data_root))}} if data_root else {}), **series_override(series),
                 **pairs_override(input_series, target_series, data_root, series)}
    model = load_model(checkpoint, torch_device, ema=not no_ema, overrides=overrides or None, plugins=loaded_plugins())
    if split_from:
        model = with_data_from(model, Path(split_from), loaded_plugins())
    options = EvalOptions(split=split, batch_size=batch_size, max_images=max_images, train_mode=train_mode,
                          precision=precision, frame=frame, native=native, whole_data=data_root is not None,
                          data_from=str(Path(split_from)) if split_from else None,
                          inception=Path(inception) if inception else None,
                          lpips=Path(lpips) if lpips else None, lpips_net=lpips_net)
    with resource_errors(f"--batch-size (now {batch_size})"):
        result = evaluate(model, options)
    other = Path(data_root).resolve().name if data_root else Path(split_from).resolve().name if split_from else None
    json_path, csv_path = write_result(result, out_file or default_output(model, other, result.summary))
    if quiet:
        click.echo(json_path)
        return
    summary = result.summary
    for note in [*summary["warnings"], *metric_gaps(summary)]:
        click.secho(f"warning: {note}", fg="yellow", err=True)
    click.echo(f"{summary['images']} image(s) of split {summary['split']!r}, {model.weights} (step {model.step})")
    if summary.get("regions"):
        click.echo("  regions: " + ", ".join(f"{n} {region}" for region, n in summary["regions"].items()))
    click.echo(metric_table(summary))
    for who, values in summary.get("distribution", {}).items():
        click.echo(f"  {who}: " + json.dumps(values))
    where = "" if out_file or other is None else " (results on other data go under evals/, never over the run's " \
        "own eval.json)"
    click.echo(f"wrote {json_path} and {csv_path}{where}")


def metric_table(summary: dict) -> str:
    """The metrics of an ``eval.json`` summary as lines: name, model and input mean ± std, and
    what the metric is (its record's one-line ``doc``, kept in ``definitions``)."""
    metrics, docs = summary["metrics"], summary.get("definitions", {})
    images = summary["images"]
    names = [name for name in sorted(metrics["model"])  # a window meant for none of these images is left out
             if metrics["model"][name].get("not_applicable") != images]
    width = max(len(name) for name in names)
    lines = []
    for name in names:
        line = f"  {name:>{width}}  model {_fmt(metrics['model'][name]):<18}"
        if "input" in metrics:
            line += f"  input {_fmt(metrics['input'][name]) if name in metrics['input'] else 'n/a':<18}"
        line += f"  {docs[name]}" if docs.get(name) else ""
        if metrics["model"][name].get("not_applicable"):
            line += f" (on {metrics['model'][name]['count']} of {images} images; not applicable to the rest)"
        lines.append(line)
    return "\n".join(lines)


def _fmt(stats: dict) -> str:
    if stats["mean"] is None:
        return "n/a"
    return f"{stats['mean']:.4g} ± {stats['std']:.2g}"
