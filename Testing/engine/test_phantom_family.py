"""The ``hard`` phantom family: deterministic, with the properties the benchmark relies on; the
default family (demo, tests) is unchanged byte for byte."""
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from sgrs.data.phantom import make_case, write_cohort
from sgrs.data.phantom_hard import hard_case_parts

SIZE, SPACING = (48, 48, 40), (1.667, 1.667, 1.5)  # the CPU benchmark's rendering
CASES = range(6)


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def test_default_family_is_unchanged():
    # digests of the default family as it was before the hard family was added (same call)
    labels, images = [], []
    for i in range(3):
        image, label, _ = make_case(i, 5, size=(40, 36, 24), spacing=(1.5, 1.4, 2.0))
        labels.append(label)
        images.append(np.round(image, 2))
    assert _digest(labels) == "7330b5b2eb719f8cd058105a1cfe089f29b55017aba58a73a41b84c8830aab06"
    assert _digest(images) == "97f4146d8e68ac88152747b14f6455584bce286e47233603ae2a9101aca4fa0a"
    explicit = make_case(1, 5, size=(40, 36, 24), spacing=(1.5, 1.4, 2.0), family="default")
    assert np.array_equal(explicit[0], make_case(1, 5, size=(40, 36, 24), spacing=(1.5, 1.4, 2.0))[0])


def test_hard_family_is_deterministic_and_different():
    a = make_case(3, 7, SIZE, SPACING, family="hard")
    b = make_case(3, 7, SIZE, SPACING, family="hard")
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    assert not np.array_equal(a[1], make_case(3, 7, SIZE, SPACING)[1])
    assert not np.array_equal(a[1], make_case(4, 7, SIZE, SPACING, family="hard")[1])


def test_unknown_family_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="family must be one of"):
        make_case(0, family="easy")
    with pytest.raises(ValueError, match="family must be one of"):
        write_cohort(tmp_path, 3, val=0, test=1, family="easy")


@pytest.mark.parametrize("index", CASES)
def test_distractors_touch_the_target(index):
    p = hard_case_parts(index, 2026, SIZE, SPACING)
    label = p["label"] > 0
    touching = binary_dilation(label) & (p["ventricle"] | p["aorta"])
    assert touching.sum() > 20, "a distractor must share a boundary with the target"
    assert not (label & (p["ventricle"] | p["aorta"])).any()


@pytest.mark.parametrize("index", CASES)
def test_wall_thickness_varies_and_has_gaps(index):
    p = hard_case_parts(index, 2026, SIZE, SPACING)
    label = p["label"] > 0
    ring = binary_dilation(label) & ~label
    walled = (ring & p["wall"]).sum() / ring.sum()
    assert 0.1 < walled < 0.95  # part of the surface has no wall at all
    assert p["thickness_mm"].min() == 0.0 and p["thickness_mm"].max() > 3.0


@pytest.mark.parametrize("index", CASES)
def test_boundary_is_blurred(index):
    # across the target's surface the noise-free blurred image steps far less than the sharp one
    p = hard_case_parts(index, 2026, SIZE, SPACING)
    label = p["label"] > 0
    edge = label & ~np.roll(label, 1, axis=0)
    step = {k: np.abs(p[k] - np.roll(p[k], 1, axis=0))[edge].mean() for k in ("clean", "blurred")}
    assert step["blurred"] < 0.6 * step["clean"]


def _cnr(image, label) -> float:
    """Target against the voxels within 2 voxels outside it, in units of the target's spread."""
    label = label > 0
    ring = binary_dilation(label, iterations=2) & ~label
    return float((image[label].mean() - image[ring].mean()) / image[label].std())


def test_hard_family_has_lower_contrast_to_noise():
    hard = [_cnr(*make_case(i, 2026, SIZE, SPACING, family="hard")[:2]) for i in CASES]
    default = [_cnr(*make_case(i, 2026, SIZE, SPACING)[:2]) for i in CASES]
    assert np.median(hard) < 0.5 * np.median(default)


def test_cli_writes_a_hard_cohort(tmp_path):
    run = subprocess.run([sys.executable, "-m", "sgrs", "phantom", str(tmp_path / "c"), "--cases", "3",
                          "--val", "0", "--test", "1", "--size", "32", "32", "16", "--family", "hard"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["generator"]["family"] == "hard" and len(manifest["cases"]) == 3


def test_every_kind_of_shift_is_deterministic_and_keeps_the_truth():
    """sgrs/data/shifts.py (issue 26): the same (kind, seed, index) gives the same case; the label is
    the truth of the shifted image (cut: the same crop, its origin moved by the cut)."""
    from sgrs.data.shifts import SHIFTS, make_shifted_case

    size, spacing = (32, 32, 24), (2.5, 2.5, 2.5)
    image0, label0, geometry0 = make_case(1, 5, size, spacing)
    for kind in SHIFTS:
        a = make_shifted_case(kind, 1, 5, size, spacing, severity=0.8)
        b = make_shifted_case(kind, 1, 5, size, spacing, severity=0.8)
        assert np.array_equal(a[0], b[0]) and a[3] == 0.8, kind
        image, label, geometry, _ = a
        assert image.dtype == np.float32 and image.shape == label.shape == tuple(geometry.size), kind
        if kind == "cut":
            assert image.shape != image0.shape and 0 < label.sum() < label0.sum()
            axis = next(i for i, (n, m) in enumerate(zip(image.shape, image0.shape)) if n != m)
            start = round((geometry.origin[axis] - geometry0.origin[axis]) / spacing[axis])
            index = [slice(None)] * 3
            index[axis] = slice(start, start + image.shape[axis])
            assert np.array_equal(label, label0[tuple(index)])
        else:
            assert np.array_equal(label, label0) and not np.allclose(image, image0), kind
