"""Scans as they come: another spacing and orientation, a region of interest, oblique grids, bad geometry.

The central test uses the bundled demo model (8 filters, trained on phantoms at 1.25 mm, LPS): the same
anatomy written at LGE-like anisotropic spacing in RAS or as a sagittal acquisition must segment like
the scan written in the model's own conditions, on the input's exact grid.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import ROOT

from sgrs.data.image_io import Geometry, read_image, to_sitk, write_image
from sgrs.data.normalize import Normalization
from sgrs.data.orientation import (
    code_matrix,
    obliquity_deg,
    orientation_code,
    reorientation,
)
from sgrs.data.phantom import make_case
from sgrs.evaluation.metrics import dice
from sgrs.inference.maps import maps_by_slab
from sgrs.inference.prepare import plan_scan, prepare_image
from sgrs.inference.resample import model_grid, probabilities_back
from sgrs.inference.segment import SegmentOptions, segment_array, segment_file
from sgrs.models.bundle import load_bundle
from sgrs.util.errors import InputError

DEMO = ROOT / "Resources" / "Demo" / "model"
IDENTITY = (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0)


def on_grid(image: sitk.Image, target: Geometry, interpolator) -> np.ndarray:
    out = sitk.Resample(image, list(target.size), sitk.Transform(), interpolator, target.origin, target.spacing,
                        target.direction, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(out).transpose(2, 1, 0)


@pytest.fixture(scope="module")
def anatomy():
    """A phantom in the demo model's own conditions (1.25 mm, LPS) and its segmentation there."""
    image, label, geometry = make_case(0, 77, size=(64, 64, 48), spacing=(1.25, 1.25, 1.25))
    seg = segment_array(image, geometry, load_bundle(DEMO), SegmentOptions(device="cpu"))
    assert seg.summary["scan"]["steps"] == ["scan used as is: it has the model's spacing and orientation"]
    assert dice(seg.label > 0, label > 0) > 0.95
    return image, geometry, seg.label


@pytest.mark.parametrize("code,spacing", [("RAS", (0.625, 0.625, 2.5)),   # LPS/RAS flips, LGE-like slices
                                          ("AIR", (0.6, 0.6, 2.5))])       # sagittal: slices along L/R
def test_scan_in_other_conditions_segments_like_the_model_conditions(anatomy, code, spacing, tmp_path):
    image, geometry, reference = anatomy
    grid = model_grid(geometry, spacing, code_matrix(code).ravel())
    scan = on_grid(to_sitk(image, geometry), grid, sitk.sitkLinear)
    path = tmp_path / "scan.nii.gz"  # NIfTI: the direction goes through a real writer and reader
    write_image(scan, grid, path)
    seg, files = segment_file(path, DEMO, tmp_path / "out", SegmentOptions(device="cpu"))
    _, read_geometry = read_image(path)
    assert orientation_code(read_geometry.direction) == code
    for key in ("label", "regions", "entropy"):  # every output on the input's exact grid
        assert Geometry.of(sitk.ReadImage(str(files[key]))).mismatch(read_geometry, tol=1e-6) is None, key
    steps = json.loads(files["summary"].read_text())["scan"]["steps"]
    assert steps[0].startswith(f"reoriented {code} → LPS by ") and steps[1].startswith("resampled ")
    # the same anatomy in physical space: the model-conditions result, carried to this grid
    expected = on_grid(to_sitk(reference.astype(np.float32), geometry), read_geometry, sitk.sitkLinear) >= 0.5
    prepared = dice(seg.label > 0, expected)
    assert prepared >= 0.95
    # and it matters: the same array fed in file order at its own spacing agrees less
    bundle = load_bundle(DEMO)
    bundle.meta["orientation"] = None
    as_is = segment_array(read_image(path)[0], read_geometry, bundle, SegmentOptions(device="cpu", keep_spacing=True))
    assert dice(as_is.label > 0, expected) < prepared


def test_reorientation_is_lossless_and_matches_physical_points():
    rng = np.random.default_rng(0)
    array = rng.standard_normal((5, 6, 7)).astype(np.float32)
    for direction in [(0, 0, -1, 1, 0, 0, 0, -1, 0), (-1, 0, 0, 0, -1, 0, 0, 0, 1), (0, 1, 0, 0, 0, 1, 1, 0, 0)]:
        g = Geometry((5, 6, 7), (1.0, 2.0, 3.0), (10.0, 20.0, 30.0), tuple(float(v) for v in direction))
        for target in ("LPS", "RAS", "AIR"):
            r = reorientation(g, target)
            moved, g2 = np.ascontiguousarray(r.apply(array)), r.geometry(g)
            assert orientation_code(g2.direction) == target
            assert np.array_equal(r.undo(moved), array)
            a, b = to_sitk(array, g), to_sitk(moved, g2)
            for index in [(0, 0, 0), (4, 5, 6), (1, 3, 2)]:
                other = b.TransformPhysicalPointToIndex(a.TransformIndexToPhysicalPoint(index))
                assert moved[other] == array[index]


def test_probabilities_come_back_exactly_on_the_same_grid_and_smoothly_on_another():
    import torch
    rng = np.random.default_rng(1)
    logits = torch.from_numpy(rng.standard_normal((3, 20, 18, 40)).astype(np.float32))
    p_u, p_m = logits.softmax(0), (logits + 0.5 * torch.randn_like(logits)).softmax(0)
    g = Geometry((20, 18, 40), (1.2, 1.1, 0.9), (5.0, -3.0, 2.0), IDENTITY)
    want = maps_by_slab(p_u, p_m, 0.296, "union")
    got = probabilities_back(p_u, p_m, g, g, 0.296, "union", slab_voxels=20 * 18 * 7)  # uneven slabs
    for a, b in zip(want, got):
        assert np.array_equal(a, b)
    # a smooth field on a coarser grid comes back linearly, borders included (no background rim)
    coarse = model_grid(g, (2.0, 2.0, 2.0))
    x = torch.linspace(0.1, 0.9, coarse.size[0])[:, None, None].expand(*coarse.size)
    probs = torch.stack([1 - x, x])
    label, entropy, _ = probabilities_back(probs, None, coarse, g, 0.296, "union", slab_voxels=2000)
    assert label[0].max() == 0 and label[-1].min() == 1
    assert entropy.std(axis=(1, 2)).max() == 0  # constant across y, z: no rim at borders or slab seams


def test_roi_restricts_inference_and_normalisation_and_outputs_stay_full_size(tmp_path):
    image, _, geometry = make_case(1, 77, size=(64, 64, 48), spacing=(1.25, 1.25, 1.25))
    lo = np.asarray(geometry.origin) + 12 * 1.25
    roi = tuple(lo) + tuple(lo + np.array([40.0, 40.0, 30.0]))
    bundle = load_bundle(DEMO)
    seg = segment_array(image, geometry, bundle, SegmentOptions(device="cpu", roi=roi))
    crop = seg.summary["scan"]["roi"]
    inside = tuple(slice(a, b) for a, b in zip(crop["index_start"], crop["index_stop"]))
    assert crop["size"] == [32, 32, 24] and seg.label.shape == image.shape
    outside = np.ones(image.shape, bool)
    outside[inside] = False
    assert not seg.label[outside].any() and not seg.regions[outside].any() and not seg.entropy[outside].any()
    assert set(np.unique(seg.regions[inside])) <= {1, 2, 3}
    assert seg.summary["scan"]["steps"][0].startswith("ROI 40.0×40.0×30.0 mm at (")
    # normalisation sees the ROI only: a saturated object outside it changes nothing inside
    bright = image.copy()
    bright[:8] = 1e6
    again = segment_array(bright, geometry, bundle, SegmentOptions(device="cpu", roi=roi))
    assert np.array_equal(again.label, seg.label) and np.array_equal(again.regions, seg.regions)
    plan = plan_scan(geometry, bundle.meta, roi=roi)
    x = prepare_image(image, plan, Normalization())
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-4
    # --roi-center/--roi-size through the CLI: the same box
    path = tmp_path / "scan.nrrd"
    write_image(image, geometry, path)
    centre = [str(v) for v in (lo + np.array([20.0, 20.0, 15.0]))]
    done = run_cli("segment", path, "--model", DEMO, "--out", tmp_path / "o", "--roi-center", *centre,
                   "--roi-size", "40", "40", "30", "--device", "cpu", "--no-regions")
    assert done.returncode == 0, done.stderr
    assert "scan: ROI 40.0×40.0×30.0 mm" in done.stdout
    assert np.array_equal(read_image(tmp_path / "o" / "label.nrrd")[0], seg.label)


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


def test_oblique_scan_is_resampled_into_the_model_orientation_or_refused_with_keep_spacing(anatomy, tmp_path):
    image, geometry, reference = anatomy
    angle = np.radians(20)  # a double-oblique cardiac-MR-like tilt about z
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    # a field of view inside the phantom's (as a scanner's oblique box holds real data everywhere)
    size, spacing = np.array([60, 60, 38]), np.array([1.0, 1.0, 1.5])
    centre = np.asarray(geometry.origin) + (np.asarray(geometry.size) - 1) / 2 * 1.25
    origin = centre - rot @ ((size - 1) / 2 * spacing)
    grid = Geometry(tuple(int(v) for v in size), tuple(spacing), tuple(origin), tuple(rot.ravel()))
    assert obliquity_deg(grid.direction) == pytest.approx(20, abs=1e-6)
    scan = on_grid(to_sitk(image, geometry), grid, sitk.sitkLinear)
    seg = segment_array(scan, grid, load_bundle(DEMO), SegmentOptions(device="cpu", regions=False))
    assert seg.label.shape == scan.shape and seg.geometry == grid
    assert "oblique grid (20.0° tilt) resampled into LPS" in seg.summary["scan"]["steps"][-1]
    expected = on_grid(to_sitk(reference.astype(np.float32), geometry), grid, sitk.sitkLinear) >= 0.5
    assert dice(seg.label > 0, expected) >= 0.9
    with pytest.raises(InputError, match=r"oblique \(axes up to 20.0° .*run without --keep-spacing"):
        segment_array(scan, grid, load_bundle(DEMO), SegmentOptions(device="cpu", keep_spacing=True))


def test_bad_geometry_gives_one_line_errors_and_warnings(tmp_path):
    image, _, geometry = make_case(2, 77, size=(40, 40, 24), spacing=(1.25, 1.25, 1.25))
    bundle = load_bundle(DEMO)
    o = np.asarray(geometry.origin)
    cases = [((o[0] + 500, o[1], o[2], o[0] + 520, o[1] + 20, o[2] + 20), "lies outside the image, which spans"),
             ((o[0], o[1], o[2], o[0] + 20, o[1] + 20, o[2] + 0.5), "thinner than one voxel along image axis z"),
             ((o[0], o[1], o[2], o[0] - 1, o[1] + 20, o[2] + 20), "x range is empty")]
    for roi, message in cases:
        with pytest.raises(InputError, match=message) as err:
            segment_array(image, geometry, bundle, SegmentOptions(device="cpu", roi=roi))
        assert "\n" not in str(err.value)
    far = Geometry(geometry.size, (12.5, 12.5, 12.5), geometry.origin, geometry.direction)
    warned = segment_array(image, far, bundle, SegmentOptions(device="cpu", regions=False, keep_spacing=True))
    assert any("likely the wrong model" in w for w in warned.summary["warnings"])
    path = tmp_path / "scan.nrrd"
    write_image(image, geometry, path)
    bad = run_cli("segment", path, "--model", DEMO, "--out", tmp_path / "o", "--roi", *map(str, cases[0][0]))
    assert bad.returncode == 1 and "lies outside the image" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    oblique = tmp_path / "oblique.nrrd"
    c, s = np.cos(0.3), np.sin(0.3)
    write_image(image, Geometry(geometry.size, geometry.spacing, geometry.origin, (c, -s, 0, s, c, 0, 0, 0, 1)), oblique)
    bad = run_cli("segment", oblique, "--model", DEMO, "--out", tmp_path / "o", "--keep-spacing")
    assert bad.returncode == 1 and "oblique" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_model_without_orientation_keeps_todays_behaviour_and_says_so(tmp_path):
    import torch

    from sgrs.models.checkpoint import import_checkpoint
    from sgrs.models.vnet import VNet
    torch.save(VNet(2, 2).state_dict(), tmp_path / "official.pth")
    out = import_checkpoint(tmp_path / "official.pth", tmp_path / "bundle", patch_size=(32, 32, 16),
                            mix_reference=np.zeros((32, 32, 16), np.float32))
    meta = json.loads((out / "model.json").read_text())
    assert meta["orientation"] is None and meta["spacing"] is None
    assert "in file order and at their own spacing" in meta["geometry_note"]
    image, _, _ = make_case(0, 3, size=(40, 36, 20), spacing=(0.7, 0.7, 2.5))
    ras = Geometry((40, 36, 20), (0.7, 0.7, 2.5), (0.0, 0.0, 0.0), (-1.0, 0, 0, 0, -1.0, 0, 0, 0, 1.0))
    bundle = load_bundle(out)
    seg = segment_array(image, ras, bundle, SegmentOptions(device="cpu"))
    assert seg.summary["scan"]["steps"] == ["model records no orientation: scan used in file order (RAS)",
                                            "model records no spacing: scan kept at 0.70×0.70×2.50 mm"]
    assert seg.summary["scan"]["reoriented"] is None and seg.summary["scan"]["resampled"] is None
    shutil.rmtree(out)


def test_bspline_interpolation_option(tiny_bundle):
    image, _, _ = make_case(3, 5, size=(30, 28, 20), spacing=(1.0, 1.0, 1.0))
    geometry = Geometry((30, 28, 20), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), IDENTITY)
    bundle = load_bundle(tiny_bundle)  # trained at 1.5×1.5×2.0 mm
    seg = segment_array(image, geometry, bundle, SegmentOptions(device="cpu", regions=False, interpolation="bspline"))
    assert seg.summary["scan"]["steps"][-1] == "resampled 1.00×1.00×1.00 mm → 1.50×1.50×2.00 mm (bspline)"
    assert seg.label.shape == image.shape and seg.summary["scan"]["network_size"] == [20, 19, 10]
    linear = prepare_image(image, plan_scan(geometry, bundle.meta), Normalization())
    cubic = prepare_image(image, plan_scan(geometry, bundle.meta, interpolation="bspline"), Normalization())
    assert linear.shape == cubic.shape and not np.array_equal(linear, cubic)
    assert np.corrcoef(linear.ravel(), cubic.ravel())[0, 1] > 0.95
