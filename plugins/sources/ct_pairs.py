"""``ct_pairs``: real CT pairs, two DICOM series of each patient paired slice by slice."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from i2i.data import DataError, Source
from i2i.data.source import note_once, resolve_root
from i2i.medical.ct_catalog import SliceRef, VolumeRef, catalog, find_volumes, read_slice
from i2i.medical.dicom_choice import SeriesChoice
from i2i.medical.folders import relative_name
from i2i.medical.regions import region_of_slice
from i2i.medical.series_pairs import Grid, onto_grid, pair_positions
from i2i_plugins.sources.ct import square

Selector = str | int | list[str | int]


@dataclass(frozen=True)
class SlicePair:
    """A target slice, the input slice at its position, and the grids to resample the input
    from and to (None when both lie on one grid)."""

    target: SliceRef
    input: SliceRef
    regrid: tuple[Grid, Grid] | None = None


class CTPairDataset(Dataset):
    """Pair ``i`` as ``{"input", "target": (1, S, S) float32 HU, "path": "<target file>#<slice>",
    "input_path", "spacing": (row_mm, col_mm), "noiseless": False, "region"}``, both padded to a
    square with air; ``groups`` (patients), ``positions`` (mm) and ``relative_paths`` of the targets."""

    def __init__(self, pairs: list[SlicePair], root: Path, stored_values_as_hu: bool = False):
        self.pairs, self.root, self.stored_values_as_hu = pairs, root, stored_values_as_hu

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def groups(self) -> list[str]:
        return [p.target.group for p in self.pairs]

    @property
    def positions(self) -> list[float | None]:
        return [p.target.position for p in self.pairs]

    @property
    def relative_paths(self) -> list[str]:
        return [f"{relative_name(p.target.path, self.root)}#{p.target.index}" for p in self.pairs]

    def size_of(self, index: int) -> tuple[int, int]:
        side = max(self.pairs[index].target.size)
        return side, side

    def spacing_of(self, index: int) -> tuple[float, float]:
        return self.pairs[index].target.spacing

    def __getitem__(self, index: int) -> dict:
        pair = self.pairs[index]
        target = np.asarray(read_slice(pair.target, None, self.stored_values_as_hu), dtype=np.float32)
        given = np.asarray(read_slice(pair.input, None, self.stored_values_as_hu), dtype=np.float32)
        if pair.regrid is not None:
            given = onto_grid(given, *pair.regrid)
        tagged = pair.target.volume.region if pair.target.volume is not None else None
        return {"input": torch.from_numpy(square(given))[None], "target": torch.from_numpy(square(target))[None],
                "path": f"{pair.target.path}#{pair.target.index}",
                "input_path": f"{pair.input.path}#{pair.input.index}",
                "spacing": torch.tensor(pair.target.spacing, dtype=torch.float32), "noiseless": torch.tensor(False),
                "region": tagged or region_of_slice(target, pair.target.spacing)}


class CTPairsSource(Source):
    """Real CT pairs: for each patient under ``root``, the DICOM series ``input_series`` names
    (a low-dose or sparse-view reconstruction) and the one ``target_series`` names (the
    full-dose or full reconstruction), paired slice by slice by their position along the
    slice normal (:mod:`i2i.medical.series_pairs`). A CT task then scores (or trains on) these
    inputs as they are: a sample that holds an ``input`` is never simulated.

    The two series of a patient must share a frame of reference and an orientation, overlap
    in position, and lie on one pixel grid (same pixel spacing, size and field of view), or
    be resampled onto it with ``resample``. Target slices without an input slice within
    ``tolerance_mm`` are left out, counted in one line. Splits hold out whole patients.

    Options:
        root: the data (data.root): a folder searched recursively for DICOM series.
        input_series: the input series of each patient: a SeriesInstanceUID, a SeriesNumber or
            a glob on SeriesDescription (e.g. "*quarter*"), or a list of them.
        target_series: the target series of each patient, named the same way.
        tolerance_mm: how far apart (mm along the normal) two slices may lie and still pair;
            default half the finer of the two series' slice spacings.
        resample: resample the input onto the target's pixel grid where they differ, instead
            of refusing the pair.
        min_body_fraction: target slices with a smaller fraction of pixels above -500 HU are
            left out.
        order: as the ``ct`` source's.
        stored_values_as_hu: as the ``ct`` source's.
    """

    def __init__(self, root: str | None = None, input_series: Selector | None = None,
                 target_series: Selector | None = None, tolerance_mm: float | None = None, resample: bool = False,
                 min_body_fraction: float = 0.05, order: Literal["position", "instance_number"] = "position",
                 stored_values_as_hu: bool = False):
        for key, value in (("input_series", input_series), ("target_series", target_series)):
            if value is None or value == []:
                raise ValueError(f"{key}: not set; name the series of each patient to pair (a SeriesInstanceUID, a "
                                 "SeriesNumber or a SeriesDescription glob; `i2i series PATH` lists them)")
        if tolerance_mm is not None and not (math.isfinite(tolerance_mm) and tolerance_mm > 0):
            raise ValueError(f"tolerance_mm must be a positive number of mm, got {tolerance_mm}")
        self.root = resolve_root(root, "ct_pairs")
        self.choices = {key: SeriesChoice.of(value, given_as=f"source.{key}")
                        for key, value in (("input_series", input_series), ("target_series", target_series))}
        self.tolerance_mm, self.resample, self.min_body_fraction = tolerance_mm, resample, min_body_fraction
        self.order, self.stored_values_as_hu = order, stored_values_as_hu
        self._dataset: CTPairDataset | None = None

    def dataset(self, split: str) -> CTPairDataset:
        if self._dataset is None:
            inputs, targets = (self._series(key) for key in ("input_series", "target_series"))
            pairs: list[SlicePair] = []
            for patient, target in targets.items():
                if patient not in inputs:
                    raise DataError(f"{self.root}: source.input_series names no series of patient {patient!r}, whose "
                                    f"target is {target.name}")
                pairs += self._pairs(inputs[patient], target)
            self._dataset = CTPairDataset(pairs, self.root, self.stored_values_as_hu)
        return self._dataset

    def _series(self, key: str) -> dict[str, VolumeRef]:
        """The series ``key`` names, one per patient."""
        found: dict[str, VolumeRef] = {}
        for ref in find_volumes(self.root, self.choices[key], self.order):
            if ref.kind != "series":
                raise DataError(f"source.{key}: {ref.name} is not a series of slices (a multi-frame file, NIfTI or "
                                "NPY); ct_pairs pairs DICOM series")
            patient = ref.patient or ref.group
            if patient in found:
                raise DataError(f"source.{key} names two series of patient {patient!r}: {found[patient].name} and "
                                f"{ref.name}; name one (`i2i series {self.root}` lists them)")
            found[patient] = ref
        return found

    def _pairs(self, given: VolumeRef, target: VolumeRef) -> list[SlicePair]:
        if given.series is target.series or given.series.uid == target.series.uid:
            raise DataError(f"source.input_series and source.target_series both name {target.name}: pair two series")
        frames = [str(v.series.head.get("FrameOfReferenceUID", "") or "") for v in (given, target)]
        if all(frames) and frames[0] != frames[1]:
            raise DataError(f"{given.name} and {target.name} are in different frames of reference ({frames[0]} and "
                            f"{frames[1]}): their slice positions cannot be compared, so they cannot be paired")
        targets = catalog([target], None, self.min_body_fraction, self.stored_values_as_hu)
        inputs = catalog([given], None, 0.0, self.stored_values_as_hu)
        if any(e.position is None for e in (*targets, *inputs)):
            raise DataError(f"{given.name} or {target.name} has slices without a position along the normal "
                            "(ImagePositionPatient, ImageOrientationPatient): pairs are matched by position")
        tolerance = self.tolerance_mm or 0.5 * min(abs(given.series.spacing[0]), abs(target.series.spacing[0]))
        matched = pair_positions([e.position for e in targets], [e.position for e in inputs], tolerance)
        if not matched:
            raise DataError(f"{given.name} (slices at {_span(inputs)}) and {target.name} (slices at {_span(targets)}) "
                            f"do not overlap in position: no target slice has an input slice within {tolerance:.3g} mm "
                            "(source.tolerance_mm); pair two series of one scan")
        if len(matched) < len(targets):
            note_once(f"{target.name}: {len(targets) - len(matched)} of {len(targets)} slice(s) have no slice of "
                      f"{given.name} within {tolerance:.3g} mm and are left out")
        pairs = [self._on_grid(given, target, targets[t], inputs[i]) for t, i in matched]
        resampled = sum(p.regrid is not None for p in pairs)
        if resampled:
            note_once(f"{given.name}: {resampled} slice(s) resampled (bilinear) onto the pixel grid of {target.name}, "
                      f"{pairs[0].regrid[1].describe()} (source.resample = true)")
        return pairs

    def _on_grid(self, given: VolumeRef, target: VolumeRef, t: SliceRef, i: SliceRef) -> SlicePair:
        grids = [Grid.of(ref.series.datasets[e.index]) for ref, e in ((given, i), (target, t))]
        if grids[0] is None or grids[1] is None:
            raise DataError(f"{i.path if grids[0] is None else t.path}: no ImagePositionPatient, "
                            "ImageOrientationPatient or PixelSpacing: its pixels cannot be placed to pair them")
        if grids[0].same_as(grids[1]):
            return SlicePair(t, i)
        if not grids[0].oriented_like(grids[1]):
            raise DataError(f"{i.path} and {t.path} are oriented differently (ImageOrientationPatient): pair series "
                            "reconstructed in one plane")
        if not self.resample:
            raise DataError(f"{given.name} ({grids[0].describe()}) and {target.name} ({grids[1].describe()}) do not "
                            f"lie on one pixel grid (pixel spacing, size or field of view differ, first at {t.path}); "
                            "set source.resample = true to resample the input onto the target's grid")
        return SlicePair(t, i, (grids[0], grids[1]))


def _span(entries: Sequence[SliceRef]) -> str:
    positions = [e.position for e in entries]
    return f"{min(positions):.1f} to {max(positions):.1f} mm" if positions else "no position"
