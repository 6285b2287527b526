"""The end of a completed run: the held-out evaluation (``eval.json``, ``eval.csv``) and
``report.html``, with what they found said in a few lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from i2i.recipe import Recipe


def finish_run(recipe: Recipe, run_dir: Path, device: Any, quiet: bool,
               say: Callable[[str], None]) -> tuple[Any, Path]:
    """Evaluate ``run_dir``'s final model on its held-out split (when ``train.final_eval``
    and the data have one) and write the report; returns ``(EvalResult or None, report path)``."""
    from i2i.evaluation.evaluate import evaluate_run
    from i2i.evaluation.summary import metric_gaps
    from i2i.report.page import write_report

    result = None
    if recipe.train.final_eval:
        done = evaluate_run(run_dir, device, recipe.train.final_eval_images)
        if done is None:
            say("no held-out split (data.test_fraction / data.val_fraction, or test/ val/ folders): no final "
                "evaluation")
        else:
            result, json_path, _ = done
            for note in metric_gaps(result.summary):
                say(f"warning: {note}")
            if not quiet:
                say(f"evaluation on {result.summary['images']} {result.summary['split']} image(s): "
                    f"{headline(result.summary)}; {json_path}")
    report = write_report(run_dir)
    if not quiet:
        say(f"report: {report}")
    return result, report


def headline(summary: dict) -> str:
    """``psnr 29.42 (input 19.13), ssim ...`` from an ``eval.json`` summary."""
    model, base = summary["metrics"]["model"], summary["metrics"].get("input", {})

    def mean(stats: dict) -> str:
        return "n/a" if stats.get("mean") is None else f"{stats['mean']:.4g}"

    return ", ".join(f"{name} {mean(model[name])}" + (f" (input {mean(base[name])})" if name in base else "")
                     for name in ("psnr", "ssim", "mae") if name in model)
