"""DistributedDataParallel: 2 CPU processes on gloo, one teacher per rank kept identical."""
import os
import subprocess
import sys

from conftest import ROOT

from sgrs.models.bundle import load_bundle
from sgrs.training.job import read_events


def test_torchrun_two_processes_keep_teachers_identical_and_rank0_alone_writes(tiny_cohort, tmp_path):
    job = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "sgrs", "train", "--cohort", str(tiny_cohort), "--out", str(job), "--labelled", "2",
           "--iterations", "4", "--patch", "32", "32", "16", "--filters", "2", "--device", "cpu",
           "--log-every", "1", "--checkpoint-every", "2"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    events = read_events(job)
    assert [e["event"] for e in events].count("started") == 1
    assert events[0]["world_size"] == 2
    assert [e["iteration"] for e in events if e["event"] == "step"] == [1, 2, 3, 4]
    assert events[-1]["event"] == "finished"
    assert events[-1]["teacher_rank_spread"] == 0.0
    load_bundle(job / "model")
