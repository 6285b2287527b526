"""The end of a completed run: the held-out evaluation (``eval.json``, ``eval.csv``) and
``report.html``, with what they found said in a few lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from i2i.evaluation.evaluate import evaluate_run
from i2i.evaluation.summary import metric_gaps
from i2i.recipe import Recipe
from i2i.report.page import write_report
from i2i.runs.checkpoint import checkpoint_problem, latest_checkpoint
from i2i.runs.rundir import read_best


def finish_run(recipe: Recipe, run_dir: Path, device: Any, quiet: bool,
               say: Callable[[str], None]) -> tuple[Any, Path]:
    """Evaluate ``run_dir``'s chosen checkpoint (:func:`final_checkpoint`, named in one line)
    on its held-out split (when ``train.final_eval`` and the data have one) and write the
    report; returns ``(EvalResult or None, report path)``."""
    result = None
    if recipe.train.final_eval:
        checkpoint, chosen = final_checkpoint(run_dir, recipe.train.final_eval_checkpoint)
        if not quiet or "NOT the best" in chosen:
            say(f"final evaluation of {chosen}")
        done = evaluate_run(run_dir, device, recipe.train.final_eval_images, checkpoint=checkpoint, chosen=chosen)
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


def final_checkpoint(run_dir: Path, choice: str) -> tuple[Path | None, str]:
    """The checkpoint folder the final evaluation scores (``train.final_eval_checkpoint``:
    ``best`` = the one ``train.best_metric`` kept, else the last; ``last``) and a line naming
    it, saying when it is not the best."""
    last = latest_checkpoint(run_dir / "checkpoints")
    best = read_best(run_dir)
    best_folder = run_dir / "checkpoints" / best["folder"] if best else None
    if last is None or best_folder is None or checkpoint_problem(best_folder) is not None:
        return last, f"{last.name if last else 'the run'}, the last checkpoint (the run kept no best one: " \
                     "train.best_metric picks it on the validation split)"
    value = best.get("value")
    what = (f"the best by {best.get('metric')} ({value:.4g} at step {best.get('step')})"
            if isinstance(value, (int, float)) else f"the best by {best.get('metric')}")
    if best_folder == last:
        return last, f"{last.name}, the last checkpoint and {what}"
    if choice == "best":
        return best_folder, (f"{best_folder.name}, {what}; the last is {last.name} "
                             "(train.final_eval_checkpoint = \"last\" scores that)")
    return last, (f"{last.name}, the last checkpoint, NOT the best: {best_folder.name} is {what} "
                  "(train.final_eval_checkpoint = \"best\" scores that)")


def headline(summary: dict) -> str:
    """``psnr 29.42 (input 19.13), ssim ...`` from an ``eval.json`` summary."""
    model, base = summary["metrics"]["model"], summary["metrics"].get("input", {})

    def mean(stats: dict) -> str:
        return "n/a" if stats.get("mean") is None else f"{stats['mean']:.4g}"

    return ", ".join(f"{name} {mean(model[name])}" + (f" (input {mean(base[name])})" if name in base else "")
                     for name in ("psnr", "ssim", "mae") if name in model)
