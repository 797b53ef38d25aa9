"""Jobs outlive the GUI that starts them and are cancelled from anywhere, through a launcher like
PythonSlicer (issue 8, items 3, 4, 5, 12): real processes, the process table checked with psutil."""
import json
import os
import re
import subprocess
import sys

import psutil
import pytest
from conftest import LAUNCHER, ROOT, sgrs_processes, wait_until

from sgrs.util import background
from sgrs.util.background import ENGINE_FILE, LAUNCHER_FILE, popen_options, read_record


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, tiny_cohort):
    return tiny_cohort / "manifest.json"


STARTER = """
import sys
from SGRSTrainLib.job import TrainJob, TrainParameters
params = TrainParameters(cohort=sys.argv[1], out=sys.argv[2], iterations=int(sys.argv[3]), patch=(32, 32, 16),
                         filters=2, labelled=2, device="cpu", extra_args=("--log-every", "1", "--val-every", "1000"))
TrainJob.start(params, python={launcher!r})
print("started")  # and exit at once: the GUI that started the job is gone
"""


def start_from_a_process_that_exits(manifest, out, iterations):
    """A GUI stand-in starts the job through the launcher and exits; its pipes die with it."""
    code = STARTER.format(launcher=LAUNCHER)
    env_path = os.pathsep.join(map(str, [ROOT, ROOT / "SGRSSegment", ROOT / "SGRSTrain"]))
    done = subprocess.run([sys.executable, "-c", code, str(manifest), str(out), str(iterations)], check=False,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": env_path})
    assert done.returncode == 0 and "started" in done.stdout, done.stderr


def test_job_outlives_its_starter_and_a_fresh_attach_cancels_the_whole_tree(manifest, tmp_path):
    from SGRSTrainLib.job import TrainJob
    out = tmp_path / "job"
    start_from_a_process_that_exits(manifest, out, 400)
    job = TrainJob.attach(out)  # no process handle: only the folder
    assert wait_until(lambda: job.status().iteration >= 3), (out / "train.log").read_text()
    first = job.status().iteration
    assert wait_until(lambda: job.status().iteration >= first + 2), "the job keeps stepping with its starter gone"

    launcher, engine = read_record(out / LAUNCHER_FILE), read_record(out / ENGINE_FILE)
    assert launcher["pid"] != engine["pid"], "the launcher runs the engine as its child, as PythonSlicer does"
    assert psutil.Process(engine["pid"]).ppid() == launcher["pid"]
    assert not list(out.glob("*.pipe")) and (out / "train.log").exists()

    again = TrainJob.attach(out)
    again.stop(grace=120)
    status = again.status()
    assert status.state == "cancelled", status
    assert (out / "checkpoint.safetensors").exists()
    events = [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()]
    assert events[-2]["event"] == "checkpoint" and events[-1]["event"] == "cancelled"
    assert wait_until(lambda: not sgrs_processes(out), 30), "no process of the job is left"
    for record in (launcher, engine):
        assert not background.alive(record["pid"])


def test_a_stop_that_takes_too_long_kills_the_tree(manifest, tmp_path):
    from SGRSTrainLib.job import TrainJob
    out = tmp_path / "job"
    start_from_a_process_that_exits(manifest, out, 400)
    job = TrainJob.attach(out)
    assert wait_until(lambda: job.status().iteration >= 1), (out / "train.log").read_text()
    job.kill()
    assert wait_until(lambda: not sgrs_processes(out), 30)
    assert job.status().state == "stopped" and not job.alive()


def test_liveness_and_tree_kill_are_portable():
    source = (ROOT / "sgrs" / "util" / "background.py").read_text() + \
        (ROOT / "SGRSTrain" / "SGRSTrainLib" / "job.py").read_text()
    # POSIX-only calls that break on Windows, the most common Slicer platform (item 5)
    assert not re.search(r"killpg|/proc/|os\.kill\(|signal\.SIG", source)
    windows = popen_options(windows=True)
    assert windows["creationflags"] & 0x08000000, "CREATE_NO_WINDOW: no console window pops up"
    assert "start_new_session" not in windows
    assert popen_options(windows=False) == {"start_new_session": True}
    assert not background.alive(None) and background.alive(psutil.Process().pid)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    assert wait_until(lambda: psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE, 30)
    assert not background.alive(zombie.pid), "an exited, unreaped child is not alive"
    zombie.wait()


def test_a_reused_pid_is_not_taken_for_the_job(tmp_path):
    me = psutil.Process()
    (tmp_path / ENGINE_FILE).write_text(json.dumps({"pid": me.pid, "create_time": me.create_time() - 1000}))
    assert background.folder_processes(tmp_path) == []


def test_failed_engine_error_comes_from_the_log(tmp_path):
    proc = background.BackgroundProcess(["segment", tmp_path / "missing.nrrd", "--model", tmp_path, "--out",
                                         tmp_path / "o"], tmp_path, LAUNCHER, name="segment").start()
    assert proc.wait(120) == 1
    assert not proc.running
    message = proc.error_message()
    assert "missing.nrrd" in message and "Traceback" not in message
