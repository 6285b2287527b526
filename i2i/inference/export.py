"""``i2i export``: the generator alone as ONNX, TorchScript or safetensors, checked against
PyTorch on an input of a size the export never saw.

ONNX and TorchScript graphs wrap the generator in :class:`AnySizeGenerator`, which
reflect-pads height and width to the generator's size divisor and crops the output back,
with the pad amounts computed from the input's shape inside the graph: the exported model
takes any batch size, height and width (each side at least half the size divisor plus one
pixel, reflect padding's limit). Inputs and outputs are in the network's range (the task's
normalisation, e.g. [-1, 1]); the file's metadata records the task, channels and the full
recipe, so the data units are known. The safetensors export is the generator's weights
with the same metadata ``i2i predict`` rebuilds the model from.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from i2i import __version__
from i2i.engine.checkpoint import read_metadata, read_tensors, save_safetensors
from i2i.errors import I2IError, UsageError
from i2i.inference.model import LoadedModel, load_model
from i2i.nn.sizing import forward_any_size

FORMATS = ("onnx", "torchscript", "safetensors")
#: Largest accepted difference between the exported model and PyTorch (fp32).
TOLERANCE = 1e-4
ONNX_OPSET = 17


class AnySizeGenerator(nn.Module):
    """``generator`` for any H x W: reflect-pad to ``multiple``, run, crop back. Unlike
    :func:`i2i.nn.sizing.forward_any_size` it always pads (possibly by zero), so a traced
    graph keeps the pad amounts as functions of the input shape."""

    def __init__(self, generator: nn.Module, multiple: int):
        super().__init__()
        self.generator = generator
        self.multiple = int(multiple)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        ph = (self.multiple - h % self.multiple) % self.multiple
        pw = (self.multiple - w % self.multiple) % self.multiple
        top, left = ph // 2, pw // 2
        y = self.generator(F.pad(x, (left, pw - left, top, ph - top), mode="reflect"))
        return y[:, :, top:top + h, left:left + w]


@dataclass(frozen=True)
class ExportResult:
    """What was written and how it compared with PyTorch."""

    path: Path
    format: str
    max_abs_diff: float
    checked_shape: tuple[int, ...]


def metadata(model: LoadedModel) -> dict[str, str]:
    """Facts a deployment needs about the exported generator."""
    task = model.task
    return {
        "i2i_version": __version__, "task": model.recipe.task.name, "generator": model.recipe.generator.name,
        "in_channels": str(task.in_channels), "out_channels": str(task.out_channels),
        "size_divisor": str(model.size_divisor), "step": str(model.step),
        "source_weights": model.weights.name,
        "io": "network range: the task's normalisation of input and output (see the recipe's task)",
        "recipe": read_metadata(model.weights).get("recipe", ""),
    }


def example_inputs(model: LoadedModel, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(trace, check)`` inputs in [-1, 1]: the trace input is one image of twice the size
    divisor (at least 64) per side; the check input has another batch size and sides that are
    not multiples of the divisor, so the check exercises the dynamic shapes."""
    g = torch.Generator().manual_seed(seed)
    c, d = model.task.in_channels, model.size_divisor
    side = max(64, 2 * d)
    trace = torch.rand(1, c, side, side, generator=g) * 2 - 1
    h, w = side + d // 2 + 3, side // 2 + d + 5
    check = torch.rand(2, c, h, w, generator=g) * 2 - 1
    return trace.to(model.device), check.to(model.device)


def export_generator(model: LoadedModel, fmt: str, out: str | Path) -> ExportResult:
    """Write ``model``'s generator as ``fmt`` to ``out`` and check it against PyTorch; a
    difference above :data:`TOLERANCE` fails (the file is removed)."""
    if fmt not in FORMATS:
        raise UsageError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    path = Path(out)
    target, folder = path.resolve(), model.checkpoint.resolve()
    in_checkpoint = target.parent == folder and (folder / "trainer.json").exists() and target.exists()
    if target == model.weights.resolve() or in_checkpoint:
        raise UsageError(f"--out {out}: would overwrite {target.name} of the checkpoint being exported "
                         f"({model.checkpoint}); choose another file")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.generator.eval()
    trace_input, check_input = example_inputs(model)
    with torch.no_grad():
        reference = forward_any_size(model.generator, check_input).float()
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # same suffix: the safetensors check reloads it
    try:
        exported = {"onnx": _onnx, "torchscript": _torchscript, "safetensors": _safetensors}[fmt]
        with warnings.catch_warnings():  # torch.jit / the TorchScript-based ONNX exporter announce their future
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            output = exported(model, trace_input, check_input, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    diff = float((output.float().cpu() - reference.cpu()).abs().max())
    if not diff <= TOLERANCE:
        tmp.unlink(missing_ok=True)
        raise I2IError(f"{path}: the exported {fmt} model differs from PyTorch by {diff:.3g} "
                       f"(max abs, allowed {TOLERANCE:g}); nothing written")
    tmp.replace(path)
    return ExportResult(path, fmt, diff, tuple(check_input.shape))


def _onnx(model: LoadedModel, trace_input: torch.Tensor, check_input: torch.Tensor, path: Path) -> torch.Tensor:
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise UsageError("--format onnx needs onnx and onnxruntime: pip install 'i2i[export]'") from None
    wrapper = AnySizeGenerator(model.generator, model.size_divisor).eval()
    dynamic = {0: "batch", 2: "height", 3: "width"}
    with torch.no_grad():
        torch.onnx.export(wrapper.cpu(), (trace_input.cpu(),), str(path), dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": dynamic, "output": dynamic})
    model.generator.to(model.device)
    proto = onnx.load(str(path))
    for key, value in metadata(model).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"input": check_input.cpu().numpy()})[0])


def _torchscript(model: LoadedModel, trace_input: torch.Tensor, check_input: torch.Tensor,
                 path: Path) -> torch.Tensor:
    wrapper = AnySizeGenerator(model.generator, model.size_divisor).eval()
    with torch.no_grad():
        traced = torch.jit.trace(wrapper, trace_input, check_trace=False)
    torch.jit.save(traced, str(path), _extra_files={"i2i.json": json.dumps(metadata(model))})
    loaded = torch.jit.load(str(path), map_location=model.device)
    with torch.no_grad():
        return loaded(check_input)


def _safetensors(model: LoadedModel, trace_input: torch.Tensor, check_input: torch.Tensor,
                 path: Path) -> torch.Tensor:
    meta = read_metadata(model.weights)
    meta.update({"exported_from": str(model.weights), "exported_by": f"i2i {__version__}"})
    save_safetensors({k: v.contiguous() for k, v in read_tensors(model.weights).items()}, path, meta)
    again = load_model(path, model.device)
    with torch.no_grad():
        return forward_any_size(again.generator, check_input)
