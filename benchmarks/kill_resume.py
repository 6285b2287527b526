"""``kill -9`` at random moments of a run, each followed by ``i2i run --resume``: the run must
end bit-identical to an uninterrupted one (issue 15, "must hold"). A check, not a timing.

    python -m benchmarks.kill_resume                  # 20 kills of a 400-step medical_ct run
    python -m benchmarks.kill_resume --quick          # 2 kills of a tiny 12-step run (seconds)

1. An uninterrupted reference run: ``i2i run recipes/medical_ct.toml --set train.steps=400``
   (checkpoints every 20 steps, a metrics line per step, no final evaluation).
2. The same run started, then killed with SIGKILL ``--kills`` times, each kill at a random
   moment: once the run has logged a random target step (targets drawn uniformly over the
   run, sorted), plus a random extra delay of up to ``--jitter`` seconds, so kills land in
   training steps, validation and sample writes alike. A random quarter of the kills wait
   instead for the next checkpoint write to begin (its ``.tmp-step_*`` folder) and land in
   it; one in ten strike during start-up (a random moment of the first 3 seconds). After
   each kill the run is continued with ``i2i run --resume``; the last one runs to the end.
3. Compared bit for bit: every tensor of the final checkpoint (generator, discriminator,
   optimiser and trainer state), ``best.json``, and ``metrics.jsonl`` row by row (every
   value but ``images_per_s``, a wall-clock rate). Also checked: no process printed a
   traceback, no temporary checkpoint folder or lock file is left.

Prints a JSON summary (and writes it to ``--json``); exit status 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "medical_ct.toml"
TIMING_KEYS = ("images_per_s",)
QUICK_SETS = ("train.batch_size=2", "source.phantom_train_count=2", "source.phantom_val_count=1",
              "source.phantom_test_count=1", "source.phantom_size=32", "generator.ngf=8", "discriminator.ndf=8",
              "train.val_every=6")


def i2i_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "i2i", *map(str, args)]


def run_sets(steps: int, checkpoint_every: int, extra: tuple[str, ...]) -> list[str]:
    sets = [f"train.steps={steps}", f"train.checkpoint_every={checkpoint_every}", "train.log_every=1",
            "train.final_eval=false", *extra]
    return [arg for s in sets for arg in ("--set", s)]


def logged_step(run: Path) -> int:
    """The newest step in ``metrics.jsonl`` (0 when none)."""
    try:
        lines = (run / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError):
            continue
    return 0


def start(command: list[str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)


def kill_at(proc: subprocess.Popen, run: Path, target: int, delay: float, mode: str) -> dict:
    """SIGKILL ``proc``: ``mode`` "step" once ``run`` has logged ``target`` and ``delay`` seconds
    more; "checkpoint" as soon as a checkpoint write after ``target`` begins; "startup"
    ``delay`` seconds after the start. Returns what happened."""
    if mode != "startup":
        while proc.poll() is None and logged_step(run) < target:
            time.sleep(0.005)
    if mode == "checkpoint":
        while proc.poll() is None and not list(run.glob(f"checkpoints/.tmp-step_*-{proc.pid}")):
            time.sleep(0.001)
    else:
        time.sleep(delay)
    if proc.poll() is not None:
        return {"mode": mode, "target": target, "landed": False, "exit": proc.returncode}
    step = logged_step(run)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = sorted(p.name for p in run.glob(f"checkpoints/.tmp-step_*-{proc.pid}"))  # its own, not a leftover
    saved = sorted(int(p.name[5:]) for p in run.glob("checkpoints/step_*") if (p / "trainer.json").exists())
    return {"mode": mode, "target": target, "landed": True, "logged_step": step, "mid_checkpoint": bool(partial),
            "newest_checkpoint": saved[-1] if saved else None}


def compare(reference: Path, resumed: Path, steps: int) -> dict:
    """Bit-for-bit comparison of the two runs' final checkpoints, best.json and metrics."""
    from safetensors.torch import load_file

    final = f"checkpoints/step_{steps:08d}"
    files = sorted(p.name for p in (reference / final).glob("*.safetensors"))
    differing = []
    for name in files:
        a, b = load_file(reference / final / name), load_file(resumed / final / name)
        if a.keys() != b.keys() or any(not a[k].equal(b[k]) for k in a):
            differing.append(name)
    json_same = all((reference / p).read_bytes() == (resumed / p).read_bytes()
                    for p in (f"{final}/trainer.json", "checkpoints/best.json") if (reference / p).exists())

    def rows(run: Path) -> list[dict]:
        return [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS}
                for line in (run / "metrics.jsonl").read_text().splitlines()]

    ref_rows, res_rows = rows(reference), rows(resumed)
    return {"weights_files": files, "weights_identical": not differing, "differing_files": differing,
            "trainer_json_and_best_identical": json_same, "metrics_rows": [len(ref_rows), len(res_rows)],
            "metrics_identical": ref_rows == res_rows,
            "one_row_per_step": [r["step"] for r in res_rows] == list(range(1, steps + 1))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 kills of a tiny 12-step run (a smoke test)")
    parser.add_argument("--kills", type=int, default=None, help="kills (default 20; --quick: 2)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 400; --quick: 12)")
    parser.add_argument("--checkpoint-every", type=int, default=None, help="default 20; --quick: 3")
    parser.add_argument("--jitter", type=float, default=None, help="extra delay after the target step, "
                                                                     "seconds (default 1.0; --quick: 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="extra recipe override")
    parser.add_argument("--work", type=Path, help="keep the runs in this folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    kills = args.kills if args.kills is not None else (2 if args.quick else 20)
    steps = args.steps or (12 if args.quick else 400)
    every = args.checkpoint_every or (3 if args.quick else 20)
    jitter = args.jitter if args.jitter is not None else (0.2 if args.quick else 1.0)
    extra = (*(QUICK_SETS if args.quick else ()), *args.sets)
    sets = run_sets(steps, every, extra)
    work = args.work or Path(tempfile.mkdtemp(prefix="i2i-kill-resume-"))
    work.mkdir(parents=True, exist_ok=True)
    reference, resumed = work / "reference", work / "killed"
    for folder in (reference, resumed):
        shutil.rmtree(folder, ignore_errors=True)

    began = time.perf_counter()
    ref = subprocess.run(i2i_command("run", RECIPE, *sets, "--out", reference, "--quiet"), cwd=ROOT,
                         capture_output=True, text=True)
    reference_s = time.perf_counter() - began
    if ref.returncode != 0:
        print(ref.stderr[-3000:], file=sys.stderr)
        return 1

    rng = random.Random(args.seed)
    targets = sorted(rng.randrange(1, steps - 1) for _ in range(kills))
    modes = [rng.choices(("step", "checkpoint", "startup"), weights=(65, 25, 10))[0] for _ in range(kills)]
    events, logs = [], []
    began = time.perf_counter()
    command = i2i_command("run", RECIPE, *sets, "--out", resumed, "--quiet")
    for i, (target, mode) in enumerate(zip(targets, modes)):
        logs.append(work / f"attempt_{i:02d}.log")
        proc = start(command, logs[-1])
        delay = rng.uniform(0, 3.0) if mode == "startup" else rng.uniform(0, jitter)
        events.append(kill_at(proc, resumed, target, delay, mode))
        command = i2i_command("run", "--resume", resumed, "--quiet")
    logs.append(work / "final.log")
    final = subprocess.run(command, cwd=ROOT, stdout=logs[-1].open("w"), stderr=subprocess.STDOUT)
    killed_s = time.perf_counter() - began

    result = compare(reference, resumed, steps) if final.returncode == 0 else {}
    text = "".join(p.read_text() for p in logs)
    result.update({
        "steps": steps, "checkpoint_every": every, "kills_planned": kills,
        "kills_landed": sum(e["landed"] for e in events),
        "kills_mid_checkpoint": sum(e.get("mid_checkpoint", False) for e in events),
        "kills_during_startup": sum(e["landed"] and e["mode"] == "startup" for e in events),
        "kills_before_first_checkpoint": sum(e["landed"] and e["newest_checkpoint"] is None for e in events),
        "final_exit": final.returncode, "tracebacks": text.count("Traceback"),
        "left_behind": sorted(p.name for p in [*resumed.glob(".i2i-run.lock"), *resumed.glob("checkpoints/.tmp-*")]),
        "reference_s": round(reference_s, 1), "killed_and_resumed_s": round(killed_s, 1),
        "events": events, "work": str(work),
    })
    ok = (final.returncode == 0 and result.get("weights_identical") and result.get("metrics_identical")
          and result.get("trainer_json_and_best_identical") and result.get("one_row_per_step")
          and not result["tracebacks"] and not result["left_behind"])
    result["identical"] = bool(ok)
    summary = json.dumps(result, indent=2)
    print(summary)
    if args.json:
        args.json.write_text(summary + "\n")
    if args.work is None and ok:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
