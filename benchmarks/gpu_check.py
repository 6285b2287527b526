"""The GPU check: what the CPU cannot show, in one command, in under 5 minutes on one GPU.

    python -m benchmarks.gpu_check [--out results/gpu_check]

1. resume: a tiny run of 6 steps against 3 steps and a resume to 6, with ``run.deterministic``
   (bit-exact, or the operations PyTorch names as nondeterministic) and with the defaults;
2. precision: fp16 (grad scaler, WGAN-GP penalty) and bf16 steps, and a bf16 CT step with
   its HU output layer in fp32;
3. compile: ``train.compile`` with WGAN-GP;
4. export: ONNX and TorchScript made on the GPU and checked against PyTorch there (TF32 off
   for the check); the CT TorchScript file then runs on the CPU (no device baked in);
5. host syncs: synchronising CUDA calls per plain training step of five tasks (the
   profiler), and the lines they come from (``torch.cuda.set_sync_debug_mode``);
6. the GPU rows of the benchmarks: i2i vs the plain PyTorch loop at batch 1 and 16
   (``benchmarks/train_step.py``) and the CT physics at 512 x 512.

Without a GPU (CI), the resume check runs on the CPU, where it must be bit-exact, and every
other check is skipped with the reason. The figures go to ``OUT/gpu_check.json`` and
``OUT/gpu_check.md`` (a table ready for BENCHMARKS.md); the exit code is 1 when a check
failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks import gpu_parts as parts
from benchmarks.harness import machine, table


def checks(recipe: Path, work: Path, device: torch.device, out: Path) -> list[tuple[str, bool, Callable[[], dict]]]:
    """``(name, needs a GPU, run)`` in order (later checks export the runs of earlier ones)."""
    return [
        ("resume, deterministic", True, lambda: parts.resume(recipe, work, device, deterministic=True)),
        ("resume, defaults", False, lambda: parts.resume(recipe, work, device, deterministic=False)),
        ("fp16 and bf16 steps", True, lambda: parts.precision_steps(recipe, work, device)),
        ("compile", True, lambda: parts.compiled(recipe, work, device)),
        ("export on the GPU", True, lambda: parts.export_on_device(work, device)),
        ("host syncs per step", True, lambda: parts.host_syncs(recipe, work, device)),
        ("training step vs plain loop", True, lambda: train_step_rows(device, out)),
        ("CT physics 512 x 512", True, lambda: parts.ct_physics_512(device)),
    ]


def train_step_rows(device: torch.device, out: Path) -> dict:
    from benchmarks import train_step

    results = train_step.main(["--batch", "1", "16", "--repeats", "3", "--device", str(device),
                               "--json", str(out / "train_step.json")])
    return {"ok": True, "images_per_s": {r["batch"]: r["images_per_s"] for r in results},
            "ratio": {r["batch"]: r["ratio"] for r in results}}


def run_checks(device: torch.device, out: Path) -> list[dict]:
    """Every check on ``device`` (the GPU ones skipped without CUDA), each with its status,
    seconds and figures."""
    reason = None if device.type == "cuda" else (f"no CUDA device (torch {torch.__version__}, "
                                                 f"cuda available: {torch.cuda.is_available()})")
    rows = []
    with tempfile.TemporaryDirectory(prefix="i2i-gpu-check-") as folder:
        work = Path(folder)
        recipe = parts.tiny_recipe(work)
        for name, needs_gpu, run in checks(recipe, work, device, out):
            if needs_gpu and reason:
                rows.append({"check": name, "status": "skipped", "reason": reason})
                continue
            start = time.perf_counter()
            try:
                figures = run()
                status = "ok" if figures.pop("ok") else "failed"
                rows.append({"check": name, "status": status, "seconds": time.perf_counter() - start, **figures})
            except Exception as exc:  # noqa: BLE001 - a failed check is reported, the others still run
                rows.append({"check": name, "status": "failed", "seconds": time.perf_counter() - start,
                             "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]})
            print(f"{name}: {rows[-1]['status']} ({rows[-1]['seconds']:.0f} s)", flush=True)
    return rows


def summary(row: dict) -> str:
    """One table cell: what a check found."""
    if row["status"] == "skipped":
        return row["reason"]
    if "error" in row:
        return row["error"][:200]
    shown = {k: v for k, v in row.items() if k not in ("check", "status", "seconds")}
    return json.dumps(shown, default=lambda v: round(v, 4) if isinstance(v, float) else str(v))[:600]


def markdown(rows: list[dict], header: str) -> str:
    cells = [[r["check"], r["status"], f"{r['seconds']:.0f}" if "seconds" in r else "", summary(r)] for r in rows]
    return f"{header}\n\n" + table(cells, ["check", "status", "seconds", "result"]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results/gpu_check"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    start = time.perf_counter()
    rows = run_checks(device, args.out)
    total = time.perf_counter() - start
    date = datetime.date.today().isoformat()
    header = (f"GPU check, {date}, `python -m benchmarks.gpu_check`: {machine()}; device {device}; "
              f"{total:.0f} s in all")
    report = {"date": date, "command": "python -m benchmarks.gpu_check", "machine": machine(), "device": str(device),
              "seconds": total, "checks": rows}
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    text = markdown(rows, header)
    (args.out / "gpu_check.md").write_text(text)
    print("\n" + text)
    return 1 if any(r["status"] == "failed" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
