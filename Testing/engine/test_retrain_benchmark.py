"""benchmarks/method/retrain.py (issue 28 item 3) stays runnable: its smoke mode end to end, and a
second call continues from the results on disk instead of training again."""
import json
import os
import subprocess
import sys

from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "method" / "retrain.py"


def _run(out):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env=env)


def test_retrain_benchmark_smoke_run_fine_tunes_the_demo_model_and_resumes(tmp_path):
    done = _run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    before = json.loads((tmp_path / "before.json").read_text())
    assert len(before["dice"]) == 2 and 0.0 < before["mean"] <= 1.0
    results = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json")}
    assert set(results) == {"sgrs-seed0", "supervised-seed0", "upper-seed0"}
    for r in results.values():
        assert len(r["dice"]) == 2 and r["train_s"] > 0
        assert r["config"]["base_model"].endswith("model") and r["config"]["iterations"] == 3
    # the upper reference trains on every case labelled; the others on the user's 2
    assert results["upper-seed0"]["config"]["labelled"] is None
    assert results["supervised-seed0"]["config"]["labelled"] == 2
    # the new model keeps the demo model's class (issue 28 item 1)
    meta = json.loads((tmp_path / "runs" / "sgrs" / "seed0" / "model" / "model.json").read_text())
    assert [c["name"] for c in meta["classes"]] == ["background", "left atrium"]
    assert "| upper | 1 |" in done.stdout and "minutes to the new model" in done.stdout

    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "results").glob("*.json")}
    again = _run(tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "results").glob("*.json")} == stamps
    assert "seed 0: held-out Dice" not in again.stdout  # nothing trained again
