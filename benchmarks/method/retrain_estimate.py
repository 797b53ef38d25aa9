"""The fine-tuning preset's estimate against real runs (issue 28 item 4: within ±25 % once measured).

Runs ``sgrs train`` as a separate process, as both GUIs start it: the quick preset's fine-tuning settings
for the demo model (sgrs/training/presets.py ``apply_preset(name, base)``: iterations, method and the
preset's extra arguments) with ``--speed-dir`` a fresh folder, on the retrain benchmark's cohort
(benchmarks/method/retrain.py: run it first, or pass ``--cohort``). The first run measures; before every
later run the estimate the GUIs would show (sgrs.util.speed.training_speed: overhead + iterations × seconds
per iteration) is compared with that run's wall time, from process start to exit.

    nice -n 10 python benchmarks/method/retrain_estimate.py --out /tmp/retrain-estimate --runs 3
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sgrs.models.card import model_facts  # noqa: E402  (no torch)
from sgrs.training.presets import DEFAULT_PRESET, apply_preset, frozen_iterations  # noqa: E402
from sgrs.util.speed import training_estimate, training_speed  # noqa: E402

DEMO = ROOT / "Resources" / "Demo" / "model"


def command(settings: dict, cohort: Path, out: Path, speeds: Path, seed: int) -> list[str]:
    return [sys.executable, "-m", "sgrs", "train", "--cohort", str(cohort), "--out", str(out),
            "--iterations", str(settings["iterations"]), "--batch", str(settings["batch"]),
            "--patch", *map(str, settings["patch"]), "--filters", str(settings["filters"]),
            "--method", settings["method"] or "supervised", "--labelled", "2", "--val", "0",
            "--device", settings["device"], "--base-model", str(DEMO), "--seed", str(seed), "--json-progress",
            *map(str, settings["extra"]), "--speed-dir", str(speeds)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/tmp/retrain-estimate")
    ap.add_argument("--cohort", default="/tmp/retrain-bench/cohort",
                    help="the retrain benchmark's cohort folder (its manifest-seed<N>.json)")
    ap.add_argument("--runs", type=int, default=3, help="the first measures; each later one is checked")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--preset", default=DEFAULT_PRESET)
    args = ap.parse_args(argv)

    settings = apply_preset(args.preset, model_facts(DEMO))
    out, speeds = Path(args.out), Path(args.out) / "models"
    shutil.rmtree(out, ignore_errors=True)
    speeds.mkdir(parents=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONPATH=str(ROOT))
    key = (settings["filters"], settings["batch"], settings["patch"], settings["device"])
    method = settings["method"] or "supervised"   # as command() runs it
    rows = []
    print(f"preset {args.preset!r} fine-tuning the demo model: {json.dumps({k: settings[k] for k in settings})}")
    for run in range(args.runs):
        cohort = Path(args.cohort) / f"manifest-seed{run}.json"
        share = min(1.0, frozen_iterations(settings["extra"]) / settings["iterations"])
        speed = training_speed(speeds, *key, method=method, frozen_share=share)
        expected = speed.overhead + settings["iterations"] * speed.per_iteration if speed.measured else None
        shown = training_estimate(speeds, settings["iterations"], *key, method=method,
                                  frozen_iterations=frozen_iterations(settings["extra"]))
        load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
        t0 = time.monotonic()
        done = subprocess.run(command(settings, cohort, out / f"run{run}", speeds, 1000 + run), env=env,
                              capture_output=True, text=True)
        real = time.monotonic() - t0
        if done.returncode:
            raise SystemExit(f"run {run} failed: {done.stderr.strip().splitlines()[-1:]}")
        events = [json.loads(line) for line in (out / f"run{run}" / "progress.jsonl").read_text().splitlines()]
        iterations = [e["iteration"] for e in events if e["event"] == "finished"][0]
        error = None if expected is None else (expected - real) / real
        rows.append({"run": run, "estimate_s": expected, "shown": shown, "real_s": round(real, 1),
                     "iterations": iterations, "error": error, "load_at_start": load})
        print(f"run {run} (seed {run}, load {load}): estimate "
              f"{'none yet (a guess)' if expected is None else f'{expected:.0f} s'}, real {real:.0f} s "
              f"({iterations} iterations)" + ("" if error is None else f", error {error:+.0%}") + f"\n  shown: {shown}",
              flush=True)
    (out / "estimate.json").write_text(json.dumps({"settings": {k: list(v) if isinstance(v, tuple) else v
                                                                 for k, v in settings.items()}, "runs": rows},
                                                  indent=1))


if __name__ == "__main__":
    main()
