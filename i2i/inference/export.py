"""``i2i export``: the model alone as ONNX, TorchScript or safetensors, checked against
PyTorch on an input of a size the export never saw.

ONNX and TorchScript graphs take any batch size, height and width (padding to the
generator's size divisor is in the graph; each side at least half the divisor plus one
pixel, reflect padding's limit). By default (``io="data"``) the graph carries the task
(:class:`i2i.inference.graph.TaskGraph`): it takes and returns data units, exactly what
``i2i predict`` reads and writes: 8-bit images as uint8, 16-bit as uint16 (int32 in
TorchScript), float images in [0, 1] as float32, CT in float32 HU with air outside the field
of view. ``io="network"`` exports the bare generator in the network's range (the task's
normalisation left to the caller). The file's metadata records the task, channels, the
I/O contract and the full recipe. The safetensors export is the generator's weights with
the metadata ``i2i predict`` rebuilds the model from.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from i2i.atomic import atomic_path
from i2i.devices import full_fp32
from i2i.errors import I2IError, UsageError
from i2i.inference.graph import (
    INPUT_DTYPES,
    TOP,
    AnySizeGenerator,
    TaskGraph,
    default_input_dtype,
    example_images,
)
from i2i.inference.model import LoadedModel, load_model
from i2i.nn.sizing import forward_any_size
from i2i.runs.checkpoint import read_metadata, read_tensors, save_safetensors
from i2i.version import __version__

FORMATS = ("onnx", "torchscript", "safetensors")
IO = ("data", "network")
#: Largest accepted difference between the exported model and PyTorch (fp32), relative to the
#: output's magnitude (at least 1); integer outputs may differ by one level (rounding).
TOLERANCE = 1e-4
ONNX_OPSET = 17


@dataclass(frozen=True)
class ExportResult:
    """What was written and how it compared with PyTorch."""

    path: Path
    format: str
    max_abs_diff: float
    checked_shape: tuple[int, ...]


def metadata(model: LoadedModel, graph: nn.Module) -> dict[str, str]:
    """Facts a deployment needs about the exported model, including its I/O contract."""
    task = model.task
    if isinstance(graph, TaskGraph):
        names = {v: k for k, v in INPUT_DTYPES.items()}
        io = (f"data units: input {names[graph.input_dtype]} (N, {task.in_channels}, H, W) as decoded from files"
              f"{' in HU' if task.input_units == 'hu' else ''}; output "
              f"{names.get(graph.output_dtype, 'float32')} (N, {task.out_channels}, H, W)"
              f"{' in HU, air outside the field of view' if task.output_units == 'hu' else ' at the same depth'}")
    else:
        io = "network range: the task's normalisation of input and output (see the recipe's task)"
    return {
        "i2i_version": __version__, "task": model.recipe.task.name, "generator": model.recipe.generator.name,
        "in_channels": str(task.in_channels), "out_channels": str(task.out_channels),
        "size_divisor": str(model.size_divisor), "step": str(model.step),
        "source_weights": model.weights.name, "io": io,
        "recipe": read_metadata(model.weights).get("recipe", ""),
    }


def graph_of(model: LoadedModel, io: str, input_dtype: str | None) -> nn.Module:
    """The module to export: the task graph (``data``) or the bare generator (``network``)."""
    if io not in IO:
        raise UsageError(f"--io: {io!r} is not one of {', '.join(IO)}")
    if io == "network":
        if input_dtype is not None:
            raise UsageError("--input-dtype applies to --io data (the network graph takes network-range floats)")
        return AnySizeGenerator(model.generator, model.size_divisor).eval()
    name = input_dtype or default_input_dtype(model.task)
    if name not in INPUT_DTYPES:
        raise UsageError(f"--input-dtype: {name!r} is not one of {', '.join(INPUT_DTYPES)}")
    if model.task.input_units == "hu" and name != "float32":
        raise UsageError(f"--input-dtype: a {model.recipe.task.name} model takes HU as float32, not {name}")
    return TaskGraph(model.task, model.generator, model.size_divisor, INPUT_DTYPES[name]).eval()


def example_inputs(model: LoadedModel, graph: nn.Module, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(trace, check)`` inputs: the trace input is one image of twice the size divisor (at
    least 64) per side; the check input has another batch size and sides that are not
    multiples of the divisor, so the check exercises the dynamic shapes."""
    c, d = model.task.in_channels, model.size_divisor
    side = max(64, 2 * d)
    h, w = side + d // 2 + 3, side // 2 + d + 5
    if isinstance(graph, TaskGraph):
        trace = example_images(model.task, graph.input_dtype, (1, c, side, side), seed)
        check = example_images(model.task, graph.input_dtype, (2, c, h, w), seed + 1)
    else:
        g = torch.Generator().manual_seed(seed)
        trace, check = torch.rand(1, c, side, side, generator=g) * 2 - 1, torch.rand(2, c, h, w, generator=g) * 2 - 1
    return trace.to(model.device), check.to(model.device)


def export_generator(model: LoadedModel, fmt: str, out: str | Path, io: str = "data",
                     input_dtype: str | None = None) -> ExportResult:
    """Write ``model`` as ``fmt`` to ``out`` and check it against PyTorch; a difference above
    :data:`TOLERANCE` fails (the file is removed)."""
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
    graph = graph_of(model, io, input_dtype)
    trace_input, check_input = example_inputs(model, graph)
    # the reference and the check in full float32: on a GPU, TF32 convolutions alone would differ
    # from the CPU's ONNX Runtime by more than TOLERANCE
    with full_fp32():
        with torch.no_grad():
            reference = (graph(check_input) if fmt != "safetensors" else
                         forward_any_size(model.generator, example_inputs(model, graph_of(model, "network", None))[1]))
        with atomic_path(path) as tmp:  # the same name and suffix: the safetensors check reloads it
            exported = {"onnx": _onnx, "torchscript": _torchscript, "safetensors": _safetensors}[fmt]
            with warnings.catch_warnings():  # torch.jit / the TorchScript-based ONNX exporter announce their future
                warnings.filterwarnings("ignore", category=FutureWarning)
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                output = exported(model, graph, trace_input, check_input, tmp)
            diff = float((output.double().cpu() - reference.double().cpu()).abs().max())
            limit = 1.0 if reference.dtype in TOP else TOLERANCE * max(1.0, float(reference.double().abs().max()))
            if not diff <= limit:
                raise I2IError(f"{path}: the exported {fmt} model differs from PyTorch by {diff:.3g} "
                               f"(max abs, allowed {limit:.3g}); nothing written")
    return ExportResult(path, fmt, diff, tuple(check_input.shape))


def _onnx(model: LoadedModel, graph: nn.Module, trace_input: torch.Tensor, check_input: torch.Tensor,
          path: Path) -> torch.Tensor:
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise UsageError("--format onnx needs onnx and onnxruntime: pip install 'i2i-toolkit[onnx]'") from None
    dynamic = {0: "batch", 2: "height", 3: "width"}
    with torch.no_grad():
        torch.onnx.export(graph.cpu(), (trace_input.cpu(),), str(path), dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": dynamic, "output": dynamic})
    graph.to(model.device)
    proto = onnx.load(str(path))
    sixteen = isinstance(graph, TaskGraph) and graph.input_dtype == torch.int32
    if sixteen:
        _as_uint16(proto, onnx)
    for key, value in metadata(model, graph).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = check_input.cpu().numpy().astype("uint16") if sixteen else check_input.cpu().numpy()
    result = session.run(None, {"input": feed})[0]
    return torch.from_numpy(result.astype("int64") if sixteen else result)


def _as_uint16(proto, onnx) -> None:
    """16-bit graphs are traced with int32 (torch's exporter has no uint16); give the ONNX graph
    uint16 input and output: the input's casts take uint16, the final cast makes uint16."""
    uint16 = onnx.TensorProto.UINT16
    proto.graph.input[0].type.tensor_type.elem_type = uint16
    proto.graph.output[0].type.tensor_type.elem_type = uint16
    producer = next(node for node in proto.graph.node if "output" in node.output)
    if producer.op_type != "Cast":
        raise I2IError("unexpected 16-bit ONNX graph: its output is not made by a Cast")
    for attribute in producer.attribute:
        if attribute.name == "to":
            attribute.i = uint16
    onnx.checker.check_model(proto)


def _torchscript(model: LoadedModel, graph: nn.Module, trace_input: torch.Tensor, check_input: torch.Tensor,
                 path: Path) -> torch.Tensor:
    with torch.no_grad():
        traced = torch.jit.trace(graph, trace_input, check_trace=False)
    torch.jit.save(traced, str(path), _extra_files={"i2i.json": json.dumps(metadata(model, graph))})
    loaded = torch.jit.load(str(path), map_location=model.device)
    with torch.no_grad():
        return loaded(check_input)


def _safetensors(model: LoadedModel, graph: nn.Module, trace_input: torch.Tensor, check_input: torch.Tensor,
                 path: Path) -> torch.Tensor:
    meta = read_metadata(model.weights)
    meta.update({"exported_from": str(model.weights), "exported_by": f"i2i {__version__}"})
    save_safetensors({k: v.contiguous() for k, v in read_tensors(model.weights).items()}, path, meta)
    again = load_model(path, model.device)
    network_check = example_inputs(model, graph_of(model, "network", None))[1]
    with torch.no_grad():
        return forward_any_size(again.generator, network_check)
