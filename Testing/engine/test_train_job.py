"""Training jobs: the job folder contract, cancel, kill -9 and exact resume, and refusals."""
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, wait_until
from safetensors.torch import load_file

from sgrs.models.bundle import load_bundle
from sgrs.training.config import TrainConfig
from sgrs.training.job import read_events
from sgrs.training.loop import train
from sgrs.util.errors import SGRSError

TINY = dict(labelled=2, patch=(32, 32, 16), filters=2, batch=4, device="cpu", seed=3)


def run_cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def cli_train_args(cohort, out, iterations=6):
    return ["train", "--cohort", cohort, "--out", out, "--labelled", 2, "--iterations", iterations,
            "--patch", 32, 32, 16, "--filters", 2, "--seed", 3, "--device", "cpu", "--checkpoint-every", 2,
            "--log-every", 1, "--val-every", 3]


def test_job_folder_has_every_event_and_a_loadable_bundle(tiny_cohort, tmp_path):
    bundle_dir = train(TrainConfig(str(tiny_cohort), str(tmp_path / "job"), iterations=6, val_every=3,
                                   checkpoint_every=2, log_every=1, **TINY), show_bar=False)
    events = read_events(tmp_path / "job")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert {"step", "validation", "checkpoint"} <= set(kinds)
    step = next(e for e in events if e["event"] == "step")
    for key in ("loss", "sup", "unsup", "w", "share_delta", "share_omega", "share_theta", "it_per_s", "eta_s", "lr"):
        assert key in step
    assert step["share_delta"] + step["share_omega"] + step["share_theta"] == pytest.approx(1, abs=1e-5)
    assert [e["iteration"] for e in events if e["event"] == "validation"] == [3, 6]
    bundle = load_bundle(bundle_dir)
    assert bundle.meta["provenance"]["iterations"] == 6 and bundle.meta["provenance"]["method"] == "sgrs"
    assert bundle.meta["provenance"]["validation"]["dice"] is not None
    assert bundle.meta["orientation"] == "LPS" and bundle.meta["spacing"] == [1.5, 1.5, 2.0]  # what segment restores
    assert bundle.mix_reference.shape == (32, 32, 16)
    # the case flag's feature statistics: the 4 training cases' (2 labelled + 2 unlabelled), read back
    from sgrs.inference.features import read_feature_stats
    stats = read_feature_stats(bundle_dir, bundle.meta)
    assert stats is not None and stats.cases == 4 and stats.source == "training"
    assert bundle.meta["feature_stats"]["components"] == 3
    assert json.loads((tmp_path / "job" / "config.json").read_text())["iterations"] == 6
    with pytest.raises(SGRSError, match="already holds a training job"):
        train(TrainConfig(str(tiny_cohort), str(tmp_path / "job"), iterations=6, **TINY), show_bar=False)
    with pytest.raises(SGRSError, match="already finished"):
        train(TrainConfig("", str(tmp_path / "job")), resume=True, show_bar=False)


@pytest.mark.parametrize("method", ["supervised", "mean-teacher", "mix"])
def test_baselines_run_in_the_same_engine(tiny_cohort, tmp_path, method):
    bundle_dir = train(TrainConfig(str(tiny_cohort), str(tmp_path / method), iterations=2, method=method, **TINY),
                       show_bar=False)
    meta = load_bundle(bundle_dir).meta
    assert meta["provenance"]["method"] == method
    assert ("teacher" in meta["files"]) == (method != "supervised")



def test_kill_minus_nine_then_resume_matches_an_uninterrupted_run(tiny_cohort, tmp_path):
    straight = run_cli(*cli_train_args(tiny_cohort, tmp_path / "straight", 8))
    assert straight.returncode == 0, straight.stderr

    job = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "sgrs", *map(str, cli_train_args(tiny_cohort, job, 8))],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: any(e["event"] == "checkpoint" and e["iteration"] >= 2 for e in read_events(job)))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # simulate the worst moment: killed while writing the next checkpoint and a progress line
    (job / ".checkpoint.safetensors.abc123.tmp").write_bytes(b"half a checkpoint")
    with open(job / "progress.jsonl", "a") as f:
        f.write('{"event":"step","iter')
    resumed = run_cli("train", "--out", job, "--resume", "--device", "cpu")
    assert resumed.returncode == 0, resumed.stderr
    events = read_events(job)
    assert events[-1]["event"] == "finished"
    assert any(e["event"] == "started" and e["resumed"] for e in events)
    assert not list(job.glob(".*.tmp"))
    history = load_bundle(job / "model").meta["provenance"]["validation_history"]
    assert [v["iteration"] for v in history] == [3, 6, 8], "validations before the kill are kept"
    a = load_file(tmp_path / "straight" / "model" / "student.safetensors")
    b = load_file(job / "model" / "student.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a), "resume must continue exactly"


def test_sigterm_saves_and_ends_cancelled_then_resume_finishes(tiny_cohort, tmp_path):
    job = tmp_path / "job"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "sgrs", *map(str, cli_train_args(tiny_cohort, job, 400))],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert wait_until(lambda: any(e["event"] == "step" for e in read_events(job)))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "cancelled" in err and "Traceback" not in err
    last = read_events(job)[-1]
    assert last["event"] == "cancelled"
    ckpt = load_file(job / "checkpoint.safetensors")
    assert any(k.startswith("teacher.") for k in ckpt) and any(k.startswith("momentum.") for k in ckpt)
    config = json.loads((job / "config.json").read_text())
    config["iterations"] = last["iteration"] + 2  # finish quickly
    (job / "config.json").write_text(json.dumps(config))
    resumed = run_cli("train", "--out", job, "--resume", "--device", "cpu")
    assert resumed.returncode == 0, resumed.stderr
    assert read_events(job)[-1]["event"] == "finished"


def test_cli_errors_are_one_line_without_traceback(tiny_cohort, tmp_path):
    blocked = tmp_path / "ro"
    blocked.mkdir()
    blocked.chmod(0o500)
    cases = [
        (["--cohort", tmp_path / "nowhere", "--out", tmp_path / "j1"], "cohort not found"),
        (["--cohort", tiny_cohort, "--out", tmp_path / "j2", "--labelled", 4], "no unlabelled case"),
        (["--cohort", tiny_cohort, "--out", tmp_path / "j3", "--patch", 30, 30, 16], "multiple of 16"),
        (["--out", tmp_path / "j4", "--resume"], "nothing to resume"),
        (["--cohort", tiny_cohort, "--out", tmp_path / "j5", "--device", "cuda"], "no CUDA GPU"),
    ]
    if os.geteuid() != 0:  # root ignores permission bits
        cases.append((["--cohort", tiny_cohort, "--out", blocked / "job"], "not writable"))
    for args, message in cases:
        result = run_cli("train", *args)
        assert result.returncode == 1, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    failed = read_events(tmp_path / "j2")
    assert failed and failed[-1]["event"] == "failed" and "no unlabelled case" in failed[-1]["reason"]


def test_unwritable_output_folder_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_cli("train", "--cohort", tmp_path, "--out", blocker / "job")
    assert result.returncode == 1 and "not writable" in result.stderr and "Traceback" not in result.stderr


def test_job_folder_deleted_mid_run_fails_with_one_line(tiny_cohort, tmp_path):
    import shutil
    job = tmp_path / "job"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "sgrs", *map(str, cli_train_args(tiny_cohort, job, 400))],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert wait_until(lambda: any(e["event"] == "step" for e in read_events(job)))
    shutil.rmtree(job)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("sgrs: error:")]
    assert len(errors) == 1 and "deleted or moved" in errors[0] and err.strip().endswith(errors[0]), err
