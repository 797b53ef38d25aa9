"""Issue 26, item 5, in SGRS Segment's Lib: the status line says the engine's flag and warnings in
the engine's words, and its colour (``session.severity`` → ``STATUS_STYLES``) follows their severity:
never a success colour for ``review`` / ``likely failed`` or a scan unlike the training data.
Real engine processes on a real MRML scene."""
import time

import numpy as np
import pytest
from conftest import LAUNCHER, ROOT, load_node
from SGRSSegmentLib.parameters import SegmentParameters
from SGRSSegmentLib.session import STATUS_STYLES, SegmentSession, done_message, done_severity

from sgrs.data.image_io import read_image, write_image
from sgrs.inference.flag_words import flag_tooltip

DEMO = ROOT / "Resources" / "Demo" / "model"
SAMPLE = ROOT / "Resources" / "Demo" / "sample" / "image.nrrd"
WORLD = "scan unlike the model's training data"


@pytest.mark.parametrize("flag,reasons,warnings,severity", [
    ("ok", [], [], "success"),
    ("ok", [], [f"{WORLD}: the scan looks like CT"], "warning"),
    ("review", ["expected wrong voxels: 1.4× the structure's size"], [], "warning"),
    ("likely failed", ["nothing segmented"], [], "error"),
])
def test_done_message_says_the_flag_and_takes_its_severity(flag, reasons, warnings, severity):
    summary = {"seconds": 2.0, "case_flag": flag, "case_flag_reasons": reasons, "warnings": warnings}
    text = done_message(summary)
    said = f"Case flag: {flag}" + (f" ({'; '.join(reasons)})" if reasons else "")
    assert text.startswith(f"Done in 2.0 s. {said}.")
    assert all(f"Warning: {w}." in text for w in warnings)
    assert done_severity(summary) == severity
    assert ("#2e7d32" in STATUS_STYLES[severity]) == (severity == "success")   # green only for a clean ok


def run(session, node):
    session.start(SegmentParameters(volume=node, model=str(DEMO), device="cpu"))
    end = time.time() + 240
    while session.poll() == "running":
        assert time.time() < end, session.message
        time.sleep(0.05)
    assert session.state == "done", session.message


def test_a_real_run_colours_the_status_by_the_engines_flag_and_warnings(scene, tmp_path):
    image, geometry = read_image(SAMPLE)
    blank = tmp_path / "blank.nrrd"
    write_image(np.zeros_like(image), geometry, blank)
    session = SegmentSession(scene, python=LAUNCHER)
    assert session.flag_tip == ""                                   # no run, no flag to explain
    run(session, load_node(scene, blank, "blank"))
    assert "Case flag: likely failed (nothing segmented)" in session.message
    assert session.severity == "error" and "c62828" in STATUS_STYLES[session.severity]
    # issue 26, item 7: the status line's tooltip says what the flag means and how often it has been right
    assert session.flag_tip == flag_tooltip("likely failed")
    assert session.flag_tip.startswith("Case flag likely failed: nothing segmented")

    ct = (image - image.mean()) / image.std() * 300 - 200   # the sample in Hounsfield units, air at −1000
    ct[:4] = -1000
    path = tmp_path / "ct.nrrd"
    write_image(ct.astype(np.int16), geometry, path)
    run(session, load_node(scene, path, "ct"))
    assert f"Warning: {WORLD}: the scan looks like CT" in session.message          # the engine's words, after
    assert session.severity in ("warning", "error") and session.severity == done_severity(session.result.summary)
    assert session.flag_tip == flag_tooltip(session.result.summary["case_flag"]) != ""
    preview = session.preview(SegmentParameters(volume=load_node(scene, path, "ct2"), model=str(DEMO)))
    assert session.result.summary["warnings"][-1] in preview.warnings                # … and the same before


def test_the_engine_process_refuses_a_cut_input_file(scene, tmp_path, monkeypatch):
    """Issue 26, item 6: the scan file SGRS Segment hands its engine process, cut short (a full disk
    cuts it as it is written; injected here, since a full disk cannot be made on demand), is refused
    by the engine with one line naming it, and the status line says so in the error colour."""
    import sgrs.data.image_io as image_io

    write = image_io.write_image

    def cut_short(array, geometry, path, compress=True):
        written = write(array, geometry, path, compress)
        data = written.read_bytes()
        written.write_bytes(data[: len(data) * 3 // 4])
        return written

    monkeypatch.setattr(image_io, "write_image", cut_short)
    session = SegmentSession(scene, python=LAUNCHER)
    session.start(SegmentParameters(volume=load_node(scene, SAMPLE, "sample"), model=str(DEMO), device="cpu"))
    end = time.time() + 240
    while session.poll() == "running":
        assert time.time() < end, session.message
        time.sleep(0.05)
    assert session.state == "failed" and session.severity == "error"
    assert "input.nrrd: cannot read image (corrupt, truncated)" in session.message, session.message
    assert "Traceback" not in session.message and "\n" not in session.message
