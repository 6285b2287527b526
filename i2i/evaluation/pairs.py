"""``i2i predict --pairs``: the model on the recipe's own pair files (aligned A|B files,
paired folders, images a task degrades, CT volumes), read by the recipe's source exactly as
``i2i eval`` reads them.

Each data location is taken as ``data.root``: a folder with split folders gives its test
split (else val), any other folder (or file) every sample in it. Samples are decoded for
the evaluation frame, pairs made per image (:mod:`i2i.data.pair_random`), the generator run
(in train mode one image at a time), and for each sample the output is written in data
units under the sample's own name (the pair file's name; ``volume_SLICE`` for slices of a
volume), in the pair file's format and bit depth unless ``ext`` is given; formats that
cannot hold data units (volumes, DICOM slices) default to ``.npy``. With ``grid``, an
``input | output | target`` PNG per sample goes to ``grids/``. Images of another pixel size
than the model was trained at are resampled for it and back, as eval does (``native`` turns
it off). The outputs are what ``i2i eval`` scores, so metrics computed from them reproduce
``eval.json``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from i2i import atomic
from i2i.assembly import datapath
from i2i.assembly.formats import FormatTable, format_table
from i2i.data.formats import Decoded
from i2i.data.imageio import IMAGE_EXTENSIONS
from i2i.data.loader import same_size_batches
from i2i.evaluation.evaluate import EvalOptions, eval_dataset
from i2i.evaluation.measure import modes, score_batches
from i2i.grids import grid_png
from i2i.inference.model import LoadedModel
from i2i.inference.pixel_size import resampling_note
from i2i.inference.predict import PredictOptions, Predictor
from i2i.messages import note
from i2i.metrics import MetricTable
from i2i.plugins import Plugins, get_plugins

def output_name(sample_path: str, root: Path, ext: str | None, table: FormatTable) -> Path:
    """The output's path relative to the output folder for a sample ``path`` (``FILE`` or
    ``FILE#SLICE``) under ``root``."""
    file, _, index = str(sample_path).partition("#")
    path = Path(file)
    try:
        relative = path.relative_to(root) if path != root else Path(path.name)
    except ValueError:
        relative = Path(path.name)
    suffix = table.suffix_of(relative)
    stem = relative.name[: len(relative.name) - len(suffix)] if suffix else relative.name
    if index:
        stem = f"{stem}_{int(index):04d}"
    if ext:
        suffix = ext if ext.startswith(".") else f".{ext}"
    elif index or suffix.lower() not in IMAGE_EXTENSIONS:
        suffix = ".npy"
    return relative.with_name(stem + suffix)


def predict_pairs(model: LoadedModel, roots: Sequence[str | Path], out_dir: Path,
                  options: PredictOptions = PredictOptions(), grid: bool = False, frame: str | None = None,
                  plugins: Plugins | None = None, on_written: Callable[[Path], None] | None = None) -> list[Path]:
    """Predict every pair under each of ``roots`` into ``out_dir``; returns the written outputs."""
    plugins = plugins or model.plugins or get_plugins()
    Predictor(model, options)  # checks the options as plain prediction does
    pixel_range = None if options.native else model.pixel_range
    written: list[Path] = []
    resampled = images = 0
    for root in map(Path, roots):
        rooted = dataclasses.replace(model, recipe=model.recipe.with_data_root(root))
        _, dataset, _ = eval_dataset(rooted, EvalOptions(whole_data=True, frame=frame), plugins)
        pipeline = datapath.pipeline(rooted.recipe, model.task, model.device, frame=frame)
        generators = {"model": model.generator}
        with modes(generators, options.train_mode):
            for scored in score_batches(same_size_batches(dataset, options.batch_size), pipeline, model.task,
                                        generators, MetricTable.registered(plugins["metrics"], model.task),
                                        baseline=False, per_image=options.train_mode, pixel_range=pixel_range):
                resampled, images = resampled + scored.resampled, images + scored.x.shape[0]
                written += _write(model, format_table(plugins), scored, root, out_dir, options, grid,
                                  on_written)
    if resampled:
        note(resampling_note(model.pixel_range, resampled, images, ", as eval does",
                             "--native predicts at the images' own pixel size"))
    return written


def _write(model: LoadedModel, table: FormatTable, scored, root: Path, out_dir: Path,
           options: PredictOptions, grid: bool, on_written: Callable[[Path], None] | None) -> list[Path]:
    task, x, y, out = model.task, scored.x, scored.y, scored.outputs["model"]
    images = task.finalize_output(task.decode_output(x, out)).float().cpu()
    shown = task.display(x, out, y) if grid else None
    decoded = scored.raw.get("input", scored.raw.get("target"))
    paths = []
    for i, sample_path in enumerate(scored.raw["path"]):
        target = out_dir / output_name(sample_path, root, options.ext, table)
        image = images[i]
        if table.format_for(target).preview:
            image = task.preview(image)
        like = Decoded(Path(str(sample_path).partition("#")[0]),
                               decoded[i] if isinstance(decoded, torch.Tensor) else image)
        paths.append(table.write(target, image, like, options.format_options))
        if shown is not None:
            atomic.write_bytes(out_dir / "grids" / target.relative_to(out_dir).with_suffix(".png"),
                               grid_png(*(part[i:i + 1] for part in shown)))
        if on_written is not None:
            on_written(paths[-1])
    return paths
