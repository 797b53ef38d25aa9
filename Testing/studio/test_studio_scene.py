"""What the Studio's server keeps hold of, without a browser: no reference to the nodes it lists
(switching cases lists the scene's volumes and segmentations each time, and
vtkMRMLScene::GetNodesByClass hands its caller a collection to release, which Python never does: it
held every node it listed, for good), and no zombie of a training process that has ended."""
import gc
import sys
import time
from pathlib import Path

import pytest
from slow_exit_launcher import SLOW_EXIT_S
from test_studio_browser import SAMPLE, make_studio

from sgrs.data.image_io import read_image, write_image

pytest.importorskip("trame_slicer")

SLOW_EXIT_LAUNCHER = Path(__file__).with_name("slow_exit_launcher.py")


def test_switching_cases_leaves_no_reference_to_the_nodes(tmp_path):
    image, geometry = read_image(SAMPLE)
    write_image((image > image.mean()).astype("uint8"), geometry, tmp_path / "label.nrrd")
    studio = make_studio(tmp_path)
    sample = studio.case
    annotation = studio.data.add_label(sample, tmp_path / "label.nrrd")
    gc.collect()
    counts = [n.GetReferenceCount() for n in (sample, annotation)]
    for _ in range(5):
        studio.set_case(sample)   # the Data panel lists every volume and segmentation
    gc.collect()
    assert [n.GetReferenceCount() for n in (sample, annotation)] == counts


def process_state(pid: int) -> str | None:
    """The kernel's state letter for ``pid`` (Z: a zombie nobody reaped), None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process state from /proc")
def test_a_finished_training_process_is_reaped_not_left_a_zombie(tmp_path, tiny_cohort):
    """Item 10: a run that ends while its process is still exiting (the launcher outlives the engine's
    last event) is reaped by the server, not left a zombie of it. Driven as the server drives it:
    the Train panel's own parameters and Train action, polled by the Studio's tick."""
    from test_studio_browser import cohort_folder

    studio = make_studio(tmp_path, sample=None, python=[sys.executable, str(SLOW_EXIT_LAUNCHER)])
    cohort_folder(tiny_cohort, studio.data_dir)
    studio.data.open_folder("cohort")
    studio.state.update({"tr_iterations": 3, "tr_filters": 2, "tr_batch": 2, "tr_patch": "32 32 16",
                         "tr_device": "cpu", "tr_log_every": 1, "tr_val_every": 1000})
    studio.train._train()
    launcher = studio.train.session.job.process.proc.pid
    end = time.monotonic() + 300
    while studio.state.tr_state in ("idle", "running", "cancelling") and time.monotonic() < end:
        studio.tick()
        time.sleep(0.25)
    assert studio.state.tr_state == "done", studio.state.tr_status
    for _ in range(int(4 * (SLOW_EXIT_S + 3))):   # the server keeps ticking; the launcher has ended by now
        studio.tick()
        time.sleep(0.25)
    assert process_state(launcher) in (None, "X"), f"the training launcher {launcher} is {process_state(launcher)}"
