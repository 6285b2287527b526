"""``i2i predict``."""

from __future__ import annotations

from pathlib import Path

import click

from i2i.cli.options import loaded_plugins, series_option, series_override


@click.command("predict")
@click.argument("checkpoint", type=click.Path(exists=True))
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--tile", type=click.IntRange(min=0), default=1024, show_default=True,
              help="Images larger than this (pixels per side) are predicted in overlapping tiles; 0: never tile.")
@click.option("--overlap", type=click.IntRange(min=0), default=256, show_default=True,
              help="Overlap of neighbouring tiles, blended with a raised-cosine window.")
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True,
              help="Tiles (or images of one size) per forward pass.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True,
              help="Autocast dtype for the generator (fp16 needs CUDA).")
@click.option("--no-ema", is_flag=True, help="Use the raw generator weights even when the checkpoint has EMA weights.")
@click.option("--train-mode", is_flag=True,
              help="Run the generator in training mode, as the reference's test script does (dropout on, "
                   "batch statistics); the default is eval mode.")
@click.option("--convert-channels", is_flag=True,
              help="Convert inputs whose channel count differs from the model's (grey <-> RGB by luma / "
                   "repetition, alpha dropped); without it such inputs are an error.")
@click.option("--native", is_flag=True,
              help="Run the model at the inputs' own pixel size even where it differs from the pixel sizes it was "
                   "trained at (default: resample such inputs, e.g. 0.5 mm CT for a model trained at 2 mm, for the "
                   "model and its output back).")
@click.option("--from-clean", "from_clean", is_flag=True,
              help="INPUTs are clean images (full-dose, fully sampled scans; whole photos): make the model's input "
                   "from each with its task's physics (sparse-view or low-dose CT, inpainting holes...), seeded "
                   "per image as i2i eval does, then predict. Without it, a task that makes its own input takes the "
                   "files as that input, and says so in one line.")
@click.option("--ext", metavar="EXT", help="Write outputs with this suffix (e.g. png) instead of the input's.")
@click.option("--format-option", "format_options", multiple=True, metavar="KEY=VALUE",
              help="An option of the output format (TOML value), e.g. --format-option quality=90 for JPEG and "
                   "WebP; i2i list-plugins lists the formats. Repeatable.")
@click.option("--pairs", is_flag=True,
              help="INPUTs are data folders (or files) of the recipe's pair files (aligned A|B, paired folders, "
                   "images the task degrades, CT volumes), read by the recipe's source as i2i eval reads them "
                   "(split folders: the test split; else every sample); outputs are what eval scores.")
@click.option("--grid", is_flag=True, help="With --pairs: also write an input | output | target PNG per pair "
                                          "into OUT/grids/.")
@click.option("--frame", type=click.Choice(["full", "crop"]),
              help="With --pairs: score the full frame or the centre training crop (default: the recipe's "
                   "train.eval_frame).")
@series_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def predict(checkpoint: str, inputs: tuple[str, ...], out_dir: str, tile: int, overlap: int, batch_size: int,
            device: str, precision: str, no_ema: bool, train_mode: bool, convert_channels: bool, from_clean: bool,
            ext: str | None, native: bool, format_options: tuple[str, ...], pairs: bool, grid: bool,
            frame: str | None, series: tuple[str, ...], quiet: bool) -> None:
    """Translate INPUT files (files, folders or glob patterns) with the generator of CHECKPOINT
    (a run directory, a checkpoint folder or a generator .safetensors file).

    \b
    Any image size: sides are padded to the generator's size divisor and cropped back;
    images larger than --tile are predicted in blended tiles. Outputs keep the input's
    name (and sub-folder), format and bit depth: 8-bit in -> 8-bit out, 16-bit PNG/TIFF
    -> 16-bit, float TIFF/NPY -> float. DICOM in -> DICOM out (HU through rescale, new
    SOP/Series UIDs, source metadata kept; multi-frame stays multi-frame); NIfTI volumes are
    predicted slice by slice along their last axis and written with the same affine.
    EMA weights are used when the checkpoint has them. --train-mode normalises each image
    (or tile) on its own. Images of another pixel size than the model's are resampled for
    it and back (a count is said). A model whose task makes its own input (sparse-view or
    low-dose CT) takes the files as that input and says so; --from-clean makes it from
    clean images first. Outputs are written whole or not at all.
    """
    from i2i.resources import resource_errors
    from i2i.errors import UsageError
    from i2i.devices import pick_device
    from i2i.inference.model import load_model, refuse_nonfinite_weights
    from i2i.inference.files import collect_inputs, predict_files
    from i2i.inference.predict import PredictOptions
    from i2i.medical.dicom_choice import SeriesChoice
    from i2i.nn.symmetry_average import averaging_description

    if (grid or frame) and not pairs:
        raise UsageError("--grid and --frame need --pairs (they describe pair files with targets)")
    if from_clean and pairs:
        raise UsageError("--from-clean with --pairs: --pairs already makes each input from its target as eval does; "
                         "drop --from-clean")
    options = PredictOptions(tile=tile, overlap=overlap, batch_size=batch_size, precision=precision,
                             train_mode=train_mode, convert_channels=convert_channels, ext=ext, native=native,
                             from_clean=from_clean, format_options=_key_values(format_options))
    knobs = f"--batch-size (now {batch_size}) or --tile (now {tile}; large images are predicted in tiles of that size)"
    echo = None if quiet else (lambda path: click.echo(f"  wrote {path}", err=True))
    if pairs:
        from i2i.evaluation.pairs import predict_pairs

        model = load_model(checkpoint, pick_device(device), ema=not no_ema, plugins=loaded_plugins(),
                           overrides=series_override(series))
        refuse_nonfinite_weights(model)
        with resource_errors(knobs):
            written = predict_pairs(model, inputs, Path(out_dir), options, grid=grid, frame=frame, on_written=echo)
        if not quiet:
            click.echo(f"done: {len(written)} pair output(s) in {out_dir}", err=True)
        return
    model = load_model(checkpoint, pick_device(device), ema=not no_ema, plugins=loaded_plugins())
    refuse_nonfinite_weights(model)
    choice = SeriesChoice.of(series or None, ct_only=model.task.input_units == "hu", given_as="--series")
    say = None if quiet else (lambda line: click.echo(f"i2i: warning: {line}", err=True))
    items = collect_inputs(inputs, loaded_plugins(), dicom=choice, say=say)
    if not quiet:
        averaged = None if options.train_mode else averaging_description(model.generator)
        click.echo(f"predicting {len(items)} file(s) with {model.weights} (step {model.step}) on {model.device}"
                   + (f"; each output is {averaged}" if averaged else ""), err=True)
    with resource_errors(knobs):
        written = predict_files(model, items, Path(out_dir), options, on_written=echo,
                                say=(lambda line: None) if quiet else None)
    if not quiet:
        click.echo(f"done: {len(written)} file(s) in {out_dir}", err=True)


def _key_values(items: tuple[str, ...]) -> dict:
    """``("quality=90", ...)`` as ``{"quality": 90}`` (values in TOML syntax; a bare word is a string)."""
    import tomllib

    from i2i.errors import UsageError
    from i2i.recipe.layers import parse_value

    options = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--format-option {item!r}: expected KEY=VALUE, e.g. quality=90")
        try:
            options[key.strip()] = parse_value(raw)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"--format-option {item!r}: {raw!r} is not a TOML value: {exc}") from None
    return options
