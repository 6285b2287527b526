"""The dataset the engine trains and evaluates on: a source's samples, checked and decoded
at the size of a frame.

:class:`CheckedDataset` wraps a source dataset. In the worker processes it only decodes:
it checks each sample (readable, expected channels, no NaN/inf in float images, input and
target of one size), resizes it to the size its frame asks for
(:func:`i2i.data.resize.frame_size`: the training preprocessing, or the whole image for
evaluation; a sample's pixel ``spacing`` is scaled alike), and, with ``on_error = "skip"``,
replaces a bad sample deterministically by the next good one, reporting the files it
skipped. Each sample carries its ``index`` in the split (which seeds its evaluation pair).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch.utils.data import Dataset

from i2i.data.imageio import DataError
from i2i.data.resize import frame_size, resize
from i2i.errors import I2IError
from i2i.finite import describe_nonfinite

IMAGE_KEYS = ("input", "target")
#: The task attribute that sets each image's channel count.
CHANNEL_KEYS = {"input": "in_channels", "target": "out_channels"}


class SourceContractError(I2IError):
    """A source gave something else than samples of decoded tensors."""


def _described(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a dict of " + ", ".join(f"{k}: {type(v).__name__}" for k, v in list(value.items())[:4])
    return f"{type(value).__name__} {value!r}"[:60]


class CheckedDataset(Dataset):
    """``dataset[i]`` checked and resized; ``skipped`` lists files replaced so far in this process.

    ``settable`` names the task options among ``in_channels``/``out_channels`` that the
    recipe may set (a channel mismatch then says which to set); ``origin`` names the source
    and its plugin in the error a sample that is no dict of tensors gets (not skippable: it
    is the source's defect, not a file's)."""

    def __init__(self, dataset: Dataset, channels: Mapping[str, int], preprocess: str = "none",
                 load_size: int = 286, crop_size: int = 256, on_error: str = "raise", *,
                 settable: tuple[str, ...] = (), frame: str = "train", origin: str = "the data source"):
        self.dataset = dataset
        self.origin = origin
        self.settable = tuple(settable)
        self.frame = frame
        self.channels = dict(channels)
        self.preprocess = preprocess
        self.load_size = load_size
        self.crop_size = crop_size
        self.on_error = on_error

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:  # groups, relative_paths... of the source dataset
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, index: int) -> dict[str, Any]:
        skipped: list[str] = []
        for offset in range(len(self)):
            i = (index + offset) % len(self)
            try:
                sample = self.load(i)
            except DataError as exc:
                if self.on_error != "skip":
                    raise
                skipped.append(str(exc))
                continue
            sample["skipped"] = skipped
            sample["index"] = index
            return sample
        raise DataError(f"every sample failed to load; the first error: {skipped[0]}")

    def load(self, index: int) -> dict[str, Any]:
        """Decode, check and resize sample ``index`` (errors raise :class:`DataError`)."""
        sample = self.dataset[index]
        if not isinstance(sample, Mapping) or not any(isinstance(sample.get(k), torch.Tensor) for k in IMAGE_KEYS) \
                or any(k in sample and not isinstance(sample[k], torch.Tensor) for k in IMAGE_KEYS):
            raise SourceContractError(f"{self.origin}: sample {index} is {_described(sample)}; a source's dataset "
                                      "gives dicts of decoded (C, H, W) tensors: {'target': ...} (and 'input' for "
                                      "pairs)")
        sample = dict(sample)
        path = sample.get("path", f"sample {index}")
        images = {k: sample[k] for k in IMAGE_KEYS if isinstance(sample.get(k), torch.Tensor)}
        for key, image in images.items():
            if image.ndim != 3:
                raise DataError(f"{path}: {key} must be (C, H, W), got shape {tuple(image.shape)}")
            expected = self.channels.get(key)
            if expected is not None and image.shape[0] != expected:
                raise DataError(self.channel_message(path, key, image.shape[0], expected))
            bad = describe_nonfinite(image)
            if bad:
                hint = "" if self.on_error == "skip" else \
                    ", or set data.on_error = \"skip\" to leave such samples out"
                raise DataError(f"{path}: {key} holds {bad}; repair or mask them in the file{hint}")
        sizes = {tuple(img.shape[-2:]) for img in images.values()}
        if len(sizes) > 1:
            described = ", ".join(f"{k} {img.shape[-2]}x{img.shape[-1]}" for k, img in images.items())
            raise DataError(f"{path}: input and target differ in size ({described})")
        if sizes:
            h, w = sizes.pop()
            size = frame_size(self.frame, self.preprocess, h, w, self.load_size, self.crop_size)
            for key, image in images.items():
                sample[key] = resize(image, size)
            if isinstance(sample.get("spacing"), torch.Tensor) and size != (h, w):
                sample["spacing"] = sample["spacing"] * torch.tensor([h / size[0], w / size[1]])
        return sample

    def spacing_of(self, index: int) -> tuple[float, float]:
        """(row, column) pixel spacing in mm of sample ``index`` as decoded (the source's
        ``spacing_of``, scaled by the frame's resize); AttributeError when the source has none."""
        row, col = self.dataset.spacing_of(index)
        if self.preprocess in ("none", "crop"):
            return row, col
        h, w = self.dataset.size_of(index)
        nh, nw = frame_size(self.frame, self.preprocess, h, w, self.load_size, self.crop_size)
        return row * h / nh, col * w / nw

    def channel_message(self, path: str, key: str, channels: int, expected: int) -> str:
        """Why a ``key`` image of ``channels`` channels does not fit, naming the task option."""
        option = CHANNEL_KEYS.get(key, "in_channels")
        message = (f"{path}: {key} has {channels} channel(s), the task expects {expected} "
                   f"(task.{option} = {expected})")
        if option in self.settable:
            message += f"; set task.{option} = {channels} to train on such files, or convert them"
        return message


def sample_size(dataset: Dataset, index: int, preprocess: str, load_size: int, crop_size: int,
                frame: str = "train") -> tuple[int, int]:
    """The size sample ``index`` will have after decoding (from the source's cheap
    ``size_of(index)`` when it has one, else by decoding it)."""
    source = getattr(dataset, "dataset", dataset)
    size_of = getattr(source, "size_of", None)
    h, w = size_of(index) if size_of else tuple(dataset[index]["target"].shape[-2:])
    return frame_size(frame, preprocess, h, w, load_size, crop_size)
