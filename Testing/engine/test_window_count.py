"""One count of windows (issue 25): the estimate before a run, the progress during it, the summary and
``make demo``'s output all count the plain view's windows plus the region maps' mixed view's."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sgrs.data.image_io import Geometry, read_image
from sgrs.inference.defaults import DEFAULT_OVERLAP
from sgrs.inference.segment import SegmentOptions, segment_array
from sgrs.models.bundle import load_bundle
from sgrs.models.card import approx_windows, estimate_text
from sgrs.models.meta import read_meta

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "Resources" / "Demo"


def run_with_progress(image, geometry, bundle, options):
    steps = []
    seg = segment_array(image, geometry, bundle, options, progress=steps.append)
    return seg, steps


def test_the_samples_estimate_counts_what_progress_counts():
    image, geometry = read_image(DEMO / "sample" / "image.nrrd")
    bundle = load_bundle(DEMO / "model")
    estimate = approx_windows(bundle.meta, geometry, DEFAULT_OVERLAP)
    seg, steps = run_with_progress(image, geometry, bundle, SegmentOptions(device="cpu", backend="torch"))
    first, last = steps[0], steps[-1]
    # before the plain view is done: the estimate's count, the mixed view's an upper bound said as such
    assert first.count == estimate and not estimate.mixed_known and first.view == "plain view"
    assert "up to" in first.text() and "up to" in estimate_text(estimate, 0.1)
    # the run ends at the total it reported, which the summary and the describe line repeat
    assert last.done == last.total == seg.summary["windows"] == estimate.plain + last.count.mixed
    assert last.count.mixed_known and 0 < last.count.mixed <= estimate.mixed and last.view == "region maps"
    assert [s.done for s in steps] == sorted(s.done for s in steps)


@pytest.mark.parametrize("regions,mixed_view", [(True, "all"), (False, "near")])
def test_a_resampled_synthetic_scans_estimate_is_the_exact_count(tiny_bundle, regions, mixed_view):
    bundle = load_bundle(tiny_bundle)
    rng = np.random.default_rng(0)
    image = rng.normal(size=(45, 37, 23)).astype(np.float32)
    spacing = [0.8 * s for s in bundle.meta.get("spacing") or (1.0, 1.0, 1.0)]   # resampled to the model's
    geometry = Geometry(image.shape, tuple(spacing), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    estimate = approx_windows(bundle.meta, geometry, DEFAULT_OVERLAP, regions=regions, mixed_view=mixed_view)
    options = SegmentOptions(device="cpu", backend="torch", regions=regions, mixed_view=mixed_view)
    seg, steps = run_with_progress(image, geometry, bundle, options)
    assert estimate.mixed_known and estimate.total > 1
    assert {s.total for s in steps} == {estimate.total} == {seg.summary["windows"]}
    assert steps[-1].done == estimate.total
    assert estimate_text(estimate, 0.5).startswith(f"{estimate.text()} × 0.50 s ≈ ")
    assert ("region maps" in estimate.text()) == regions


def test_make_demo_says_one_count(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "sgrs.demo", str(tmp_path / "demo")], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    bars = re.findall(r"segment (\d+)/(\d+) ", done.stderr)
    counted, total = map(int, bars[-1])
    windows = int(re.search(r"(\d+) windows", done.stdout).group(1))
    assert counted == total == windows, (done.stderr, done.stdout)
    plain, mixed = map(int, re.search(r"\((\d+) plain view \+ (\d+) region maps\)", done.stdout).groups())
    assert plain + mixed == windows
    assert all(int(n) <= total for _, n in bars[1:]) and int(bars[0][1]) >= total   # "up to", then exact
