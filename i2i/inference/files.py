"""``i2i predict`` on files: which files the arguments name (files, folders, globs; DICOM
found by content), where each output goes, and the run that decodes them lazily, predicts
them with a :class:`~i2i.inference.predict.Predictor` (volumes slice by slice) and writes
each in its input's format and bit depth."""

from __future__ import annotations

import glob
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from i2i.assembly.formats import FormatTable, format_table
from i2i.data.formats import Decoded, Stack, output_session
from i2i.data.imageio import DataError
from i2i.errors import UsageError
from i2i.inference.model import LoadedModel
from i2i.inference.pixel_size import resampling_note
from i2i.inference.predict import PredictOptions, Predictor, refuse_nonfinite
from i2i.inference.task_input import input_line
from i2i.medical.dicom_choice import SeriesChoice, choose_files
from i2i.medical.dicom_read import is_dicom, modality_problem, read_header
from i2i.messages import note


@dataclass(frozen=True)
class InputFile:
    """An input and the path of its output relative to the output folder."""

    path: Path
    name: Path


def collect_inputs(arguments: Sequence[str], plugins=None, dicom: SeriesChoice | None = None,
                   say: Callable[[str], None] | None = None) -> list[InputFile]:
    """Files named by ``arguments``: files, folders (every supported file under them, their
    sub-folders kept in the output names) or glob patterns. Supported: a suffix a format
    owns, or content a format recognises (DICOM by its ``DICM`` marker, whatever the name);
    such a file's output name gets that format's suffix (``IM0001`` -> ``IM0001.dcm``).
    With ``dicom``, the DICOM files of a folder are those of the series it uses, as
    training and ``i2i eval`` choose them (:mod:`i2i.medical.dicom_choice`), and ``say``
    gets one line per kind of series or file left out; a DICOM file named on its own is
    taken as it is, unless ``dicom.ct_only`` and it is not CT.
    Fails on arguments that match nothing and on two inputs that would write the same output."""
    table = format_table(plugins)
    suffixes = table.suffixes()
    found: list[InputFile] = []
    for arg in arguments:
        p = Path(arg)
        if p.is_file():
            _check_modality(p, dicom)
            found.append(_input(table, p, Path(p.name)))
        elif p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and not _hidden(f.relative_to(p))
                           and (table.suffix_of(f) in suffixes or table.sniffed(f) is not None))
            if not files:
                raise UsageError(f"{arg}: no image files in this folder (supported: {', '.join(suffixes)}, and DICOM "
                                 "files by their 'DICM' marker whatever their name)")
            if dicom is not None:
                files = _chosen_dicom(files, dicom, arg, say)
            found += [_input(table, f, f.relative_to(p)) for f in files]
        else:
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True) if Path(m).is_file())
            if not matches:
                raise UsageError(f"{arg}: no such file or folder, and no file matches it as a pattern")
            found += [_input(table, m, Path(m.name)) for m in matches]
    seen: dict[Path, Path] = {}
    unique = []
    for item in found:
        if item.name in seen:
            if seen[item.name].resolve() == item.path.resolve():
                continue  # the same file named twice
            raise UsageError(f"{seen[item.name]} and {item.path} would both be written to {item.name}; "
                             "give their folder instead, or predict them in two runs")
        seen[item.name] = item.path
        unique.append(item)
    return unique


def _chosen_dicom(files: list[Path], choice: SeriesChoice, arg: str, say: Callable[[str], None] | None) -> list[Path]:
    """``files`` without the DICOM files of series (and objects) ``choice`` leaves out."""
    dicom = [f for f in files if is_dicom(f)]
    if not dicom:
        return files
    try:
        kept, lines = choose_files(dicom, choice, arg)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    for line in lines if say is not None else ():
        say(line)
    if not kept and len(dicom) == len(files):
        raise UsageError(f"{arg}: no DICOM series here to predict: " + "; ".join(line.removeprefix(f"{arg}: ")
                                                                             for line in lines))
    left_out = set(dicom) - set(kept)
    return [f for f in files if f not in left_out]


def _check_modality(path: Path, choice: SeriesChoice | None) -> None:
    """A DICOM file named on its own must be CT for a model of CT (``choice.ct_only``)."""
    if choice is None or not choice.ct_only or not is_dicom(path):
        return
    try:
        problem = modality_problem(read_header(path))
    except DataError as exc:
        raise UsageError(str(exc)) from None
    if problem is not None:
        raise UsageError(f"{path}: {problem}; this model translates CT images in HU")


def _input(table: FormatTable, path: Path, name: Path) -> InputFile:
    """``path`` and its output name: a file recognised by content gets its format's suffix."""
    sniffed = table.sniffed(path)
    return InputFile(path, name.with_name(name.name + sniffed.suffixes[0]) if sniffed is not None else name)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def output_path(out_dir: Path, item: InputFile, ext: str | None, table: FormatTable) -> Path:
    """Where ``item``'s output goes: its relative name under ``out_dir``, with ``ext``
    (e.g. ``png`` or ``.png``) replacing the input's suffix when given."""
    target = out_dir / item.name
    if ext:
        ext = ext if ext.startswith(".") else f".{ext}"
        suffix = table.suffix_of(item.name)
        target = target.with_name(target.name[: len(target.name) - len(suffix)] + ext)
    return target


def predict_files(model: LoadedModel, inputs: Sequence[InputFile], out_dir: Path,
                  options: PredictOptions = PredictOptions(), on_written=None, say=None) -> list[Path]:
    """Predict ``inputs`` into ``out_dir``; returns the written paths. ``on_written(path)``
    is called after each file (for progress); ``say(line)`` (default :func:`i2i.messages.note`)
    gets one line saying what the inputs are taken to be when the task makes its own input
    (:func:`~i2i.inference.task_input.input_line`), and at the end one line counting the
    images resampled to the model's pixel size. A file read as a :class:`~Stack` (a volume)
    is predicted slice by slice, its slices batched like separate images, and written once
    with all its outputs. All writes share one :func:`~output_session`; each output is
    written whole or not at all (:mod:`i2i.atomic`)."""
    say = say or note
    predictor = Predictor(model, options)
    table = format_table(model.plugins)
    targets = {item.path: output_path(out_dir, item, options.ext, table) for item in inputs}
    for target in set(targets.values()):
        table.output_format(target, options.format_options)  # unknown suffixes and options fail before any work
    for item in inputs:
        if targets[item.path].resolve() == item.path.resolve():
            raise UsageError(f"{item.path}: the output would overwrite the input; choose another --out")
    line = None if options.from_clean else input_line(model)
    if line is not None:
        say(line)
    units: deque[tuple[Decoded | Stack, list[torch.Tensor]]] = deque()

    def images() -> Iterator[Decoded]:
        for item in inputs:
            unit = table.read(item.path)
            if isinstance(unit, Stack) and not unit.slices:
                raise UsageError(f"{item.path}: holds no slices to predict")
            refuse_nonfinite(item.path, [d.image for d in unit.slices] if isinstance(unit, Stack)
                             else [unit.image])
            table.check_writable(targets[item.path], unit)  # before its slices are predicted
            units.append((unit, []))
            yield from unit.slices if isinstance(unit, Stack) else (unit,)

    written = []
    with output_session():
        for _, image in predictor.stream(images()):
            unit, outputs = units[0]  # outputs come in input order
            outputs.append(image)
            if isinstance(unit, Stack):
                if len(outputs) < len(unit.slices):
                    continue
                image = torch.stack(outputs)
            units.popleft()
            if table.format_for(targets[unit.path]).preview:
                image = model.task.preview(image)
            path = table.write(targets[unit.path], image, unit, options.format_options)
            written.append(path)
            if on_written is not None:
                on_written(path)
    if predictor.resampled:
        say(resampling_line(model, predictor.resampled, predictor.seen))
    return written


def resampling_line(model: LoadedModel, resampled: Sequence[tuple[Path, tuple[int, int], tuple[int, int]]],
                    images: int) -> str:
    """One line: how many of ``images`` were of another pixel size than the model's and were
    resampled for it and back (``resampled``: path, size, resampled size of each)."""
    path, size, new = resampled[0]
    return resampling_note(model.pixel_range, len(resampled), images,
                           f" (e.g. {path.name}: {size[0]}x{size[1]} -> {new[0]}x{new[1]})",
                           "--native predicts at the inputs' own pixel size")
