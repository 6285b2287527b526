"""``i2i export``."""

from __future__ import annotations

import click


@click.command("export")
@click.argument("checkpoint", type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript", "safetensors"]), required=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False), required=True, help="File to write.")
@click.option("--no-ema", is_flag=True, help="Export the raw generator weights even when the checkpoint has EMA weights.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True,
              help="Device the export and its check run on.")
def export(checkpoint: str, fmt: str, out_file: str, no_ema: bool, device: str) -> None:
    """Export the generator of CHECKPOINT (run directory, checkpoint folder or generator
    .safetensors) for deployment.

    \b
    onnx, torchscript: any batch size, height and width (padding to the size divisor is
    part of the graph); input and output in the network's range (the task's normalisation);
    the task, channels and recipe are in the file's metadata.
    safetensors: the weights with the metadata `i2i predict` rebuilds the model from.
    Every export is run on a fresh input of a new size and compared with PyTorch
    (max abs difference must be below 1e-4), or nothing is written.
    """
    from i2i.cli.options import loaded_plugins
    from i2i.inference.export import TOLERANCE, export_generator
    from i2i.inference.model import choose_device, load_model, refuse_nonfinite_weights

    model = load_model(checkpoint, choose_device(device), ema=not no_ema, plugins=loaded_plugins())
    refuse_nonfinite_weights(model)
    result = export_generator(model, fmt, out_file)
    click.echo(f"wrote {result.path} ({fmt}, from {model.weights}); checked on input {result.checked_shape}: "
               f"max abs difference to PyTorch {result.max_abs_diff:.2e} (limit {TOLERANCE:g})")
