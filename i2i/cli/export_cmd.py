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
@click.option("--io", type=click.Choice(["data", "network"]), default="data", show_default=True,
              help="data: the graph takes and returns data units as i2i predict reads and writes them (the task's "
                   "conversions are in the graph); network: the bare generator in the network's range.")
@click.option("--input-dtype", type=click.Choice(["uint8", "uint16", "float32"]),
              help="With --io data: the input images' type (and the output's, for image tasks): uint8 for 8-bit "
                   "files, uint16 for 16-bit, float32 for [0, 1] floats (default: uint8; float32 HU for CT).")
def export(checkpoint: str, fmt: str, out_file: str, no_ema: bool, device: str, io: str,
           input_dtype: str | None) -> None:
    """Export the generator of CHECKPOINT (run directory, checkpoint folder or generator
    .safetensors) for deployment.

    \b
    onnx, torchscript: any batch size, height and width (padding to the size divisor is
    part of the graph); by default data units in and out, as i2i predict reads and writes
    them (8-bit images as uint8, 16-bit as uint16, CT in float32 HU with air outside the
    field of view); the task, channels, I/O contract and recipe are in the file's metadata.
    safetensors: the weights with the metadata `i2i predict` rebuilds the model from.
    Every export is run on a fresh input of a new size and compared with PyTorch (max abs
    difference below 1e-4 of the output's magnitude, one level for integer outputs), or
    nothing is written.
    """
    from i2i.cli.options import loaded_plugins
    from i2i.inference.export import TOLERANCE, export_generator
    from i2i.devices import pick_device
    from i2i.inference.model import load_model, refuse_nonfinite_weights
    from i2i.resources import resource_errors

    model = load_model(checkpoint, pick_device(device), ema=not no_ema, plugins=loaded_plugins())
    refuse_nonfinite_weights(model)
    with resource_errors("the export's check input (it is small; close other programs)"):
        result = export_generator(model, fmt, out_file, io=io, input_dtype=input_dtype)
    click.echo(f"wrote {result.path} ({fmt}, {io} units, from {model.weights}); checked on input "
               f"{result.checked_shape}: max abs difference to PyTorch {result.max_abs_diff:.2e} "
               f"(relative limit {TOLERANCE:g})")
