"""``sgrs segment``: outputs with the input's exact geometry, region maps, bad input."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from conftest import OBLIQUE, ROOT

from sgrs.data.image_io import Geometry, read_image, write_image
from sgrs.data.phantom import make_case
from sgrs.inference.segment import (
    DELTA,
    OMEGA,
    THETA,
    SegmentOptions,
    keep_largest_component,
    segment_array,
    segment_file,
)
from sgrs.inference.sliding import sliding_window, window_starts
from sgrs.method.synergy import entropy_log10, synergy_regions
from sgrs.models.bundle import load_bundle
from sgrs.models.vnet import VNet
from sgrs.util.errors import InputError, ModelError, SGRSError


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    image, _, _ = make_case(0, 5, size=(45, 38, 21), spacing=(1.5, 1.4, 2.1))
    geom = Geometry((45, 38, 21), (1.5, 1.4, 2.1), (10.0, -20.0, 5.5), OBLIQUE)
    path = tmp_path_factory.mktemp("scan") / "scan.nii.gz"
    write_image(image, geom, path)
    return path


def test_outputs_keep_the_input_geometry_and_agree_with_the_engine(tiny_bundle, scan, tmp_path):
    # --keep-spacing: the scan is fed as is, so the maps can be checked against the raw engine below
    seg, files = segment_file(scan, tiny_bundle, tmp_path / "out", SegmentOptions(device="cpu", keep_spacing=True),
                              png=True)
    _, geom = read_image(scan)
    for key in ("label", "regions", "entropy"):
        img = sitk.ReadImage(str(files[key]))
        assert Geometry.of(img) == geom, key
        assert img.GetPixelID() == sitk.sitkUInt8, key
    regions = sitk.GetArrayFromImage(sitk.ReadImage(str(files["regions"]))).transpose(2, 1, 0)
    assert set(np.unique(regions)) <= {OMEGA, THETA, DELTA}  # disjoint and covering: one value per voxel
    assert files["png"].stat().st_size > 10_000
    summary = json.loads(files["summary"].read_text())
    shares = sum(r["share_of_foreground"] for r in summary["regions"].values())
    assert shares == pytest.approx(1.0, abs=1e-3) or summary["foreground_ml"] == 0
    assert summary["size"] == [45, 38, 21] and summary["device"] == "cpu"

    # the maps are exactly the engine's rule on the blended probabilities
    bundle = load_bundle(tiny_bundle)
    image, _ = read_image(scan)
    from sgrs.data.normalize import Normalization
    from sgrs.inference.sliding import model_predictor
    p_u, p_m = sliding_window(model_predictor(bundle.model), Normalization()(image), (32, 32, 16), 2, 0.5, 2,
                              mix_reference=bundle.mix_reference, mix_lambda=0.8)
    r = synergy_regions(p_u[None], p_m[None])
    expected = (OMEGA * r.omega[0] + THETA * r.theta[0] + DELTA * r.delta[0]).numpy()
    assert np.array_equal(seg.regions, expected)
    assert np.array_equal(seg.label, p_u.argmax(0).numpy())
    ent = entropy_log10(p_u[None])[0].numpy()
    assert np.abs(seg.entropy.astype(float) - ent * 255 / np.log10(2)).max() <= 0.51


def test_intersection_rule_gives_a_smaller_delta(tiny_bundle, scan):
    image, geom = read_image(scan)
    bundle = load_bundle(tiny_bundle)
    union = segment_array(image, geom, bundle, SegmentOptions(device="cpu"))
    inter = segment_array(image, geom, bundle, SegmentOptions(device="cpu", delta_rule="intersection"))
    assert (inter.regions == DELTA).sum() <= (union.regions == DELTA).sum()
    assert np.all((inter.regions == DELTA) <= (union.regions == DELTA))


def test_windows_cover_and_small_volumes_are_padded(tiny_bundle):
    starts = window_starts(100, 32, 0.5)
    assert starts[0] == 0 and starts[-1] == 68  # first and last windows touch the borders
    assert max(b - a for a, b in zip(starts, starts[1:])) <= 16  # stride ≤ half a window
    assert starts == [0, 14, 27, 41, 54, 68]
    assert window_starts(20, 32, 0.5) == [0]
    bundle = load_bundle(tiny_bundle)
    small = np.random.default_rng(0).standard_normal((10, 12, 6)).astype(np.float32)
    seg = segment_array(small, Geometry((10, 12, 6), (1.5, 1.5, 2.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1)),
                        bundle, SegmentOptions(device="cpu", regions=False))
    assert seg.label.shape == (10, 12, 6) and seg.regions is None


def test_spacing_far_from_the_model_warns(tiny_bundle, scan, tmp_path):
    image, geom = read_image(scan)
    far = Geometry(geom.size, (0.4, 0.4, 0.4), geom.origin, geom.direction)
    seg = segment_array(image, far, load_bundle(tiny_bundle),
                        SegmentOptions(device="cpu", regions=False, keep_spacing=True))
    assert any("drop --keep-spacing to resample" in w for w in seg.summary["warnings"])


def test_bad_inputs(tiny_bundle, scan, tmp_path):
    import shutil
    with pytest.raises(InputError, match="NaN/Inf"):
        bad = np.zeros((20, 20, 10), np.float32)
        bad[3, 3, 3] = np.nan
        write_image(bad, Geometry((20, 20, 10), (1, 1, 1), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1)), tmp_path / "n.nrrd")
        segment_file(tmp_path / "n.nrrd", tiny_bundle, tmp_path / "o1")
    torch.save(VNet(2, 2).state_dict(), tmp_path / "model.pth")
    with pytest.raises(ModelError, match="import-checkpoint"):
        segment_file(scan, tmp_path / "model.pth", tmp_path / "o2")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle, broken)
    (broken / "mix_reference.safetensors").unlink()
    with pytest.raises(ModelError, match="missing"):
        segment_file(scan, broken, tmp_path / "o3")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(SGRSError, match="not writable"):
        segment_file(scan, tiny_bundle, blocker / "out")
    with pytest.raises(SGRSError, match="overlap"):
        segment_file(scan, tiny_bundle, tmp_path / "o4", SegmentOptions(overlap=1.0))
    with pytest.raises(SGRSError, match="mixed-view overlap must be in"):
        segment_file(scan, tiny_bundle, tmp_path / "o5", SegmentOptions(mixed_overlap=-0.1))


def test_existing_outputs_are_replaced_whole_not_half(tiny_bundle, scan, tmp_path):
    out = tmp_path / "out"
    segment_file(scan, tiny_bundle, out, SegmentOptions(device="cpu"))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # a second run into the same folder leaves no temp files and valid outputs
    segment_file(scan, tiny_bundle, out, SegmentOptions(device="cpu", delta_rule="intersection"))
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert set(before) == {p.name for p in out.iterdir()}
    read_image(out / "regions.nrrd")


def test_cli_segment_json_progress_and_one_line_errors(tiny_bundle, scan, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "sgrs", *map(str, a)], capture_output=True,
                                    text=True, env=env, timeout=300)
    ok = run("segment", scan, "--model", tiny_bundle, "--out", tmp_path / "o", "--json-progress", "--device", "cpu")
    assert ok.returncode == 0, ok.stderr
    lines = [json.loads(line) for line in ok.stdout.splitlines()]
    assert lines[0]["event"] == "progress" and lines[-1]["event"] == "finished"
    assert lines[-1]["summary"]["regions"]["delta"]["label_value"] == DELTA
    (tmp_path / "cut.nrrd").write_bytes(scan.read_bytes()[:200])
    flat = tmp_path / "flat.nrrd"
    sitk.WriteImage(sitk.Image(9, 9, sitk.sitkFloat32), str(flat))
    for args, message in [((tmp_path / "cut.nrrd",), "cannot read image"), ((flat,), "is 2D"),
                          ((tmp_path / "none.nrrd",), "file not found")]:
        bad = run("segment", *args, "--model", tiny_bundle, "--out", tmp_path / "o5")
        assert bad.returncode == 1 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_largest_component_postprocessing_from_option_or_bundle(tiny_bundle, scan, tmp_path):
    from scipy import ndimage
    image, geom = read_image(scan)
    bundle = load_bundle(tiny_bundle)
    raw = segment_array(image, geom, bundle, SegmentOptions(device="cpu", regions=False))
    lcc = segment_array(image, geom, bundle, SegmentOptions(device="cpu", regions=False, postprocess="lcc"))
    assert np.array_equal(lcc.label, keep_largest_component(raw.label))
    assert ndimage.label(lcc.label > 0)[1] <= 1 and lcc.summary["postprocess"] == "lcc"
    two = np.zeros((8, 8, 8), np.uint8)
    two[:3, :3, :3], two[6:, 6:, 6:] = 1, 2
    kept = keep_largest_component(two)
    assert kept[:3, :3, :3].all() and not kept[6:, 6:, 6:].any()
    meta = json.loads((tiny_bundle / "model.json").read_text())
    assert meta["postprocess"] == "none"
    import shutil
    shutil.copytree(tiny_bundle, tmp_path / "lcc")
    meta["postprocess"] = "lcc"
    (tmp_path / "lcc" / "model.json").write_text(json.dumps(meta))
    from_bundle = segment_array(image, geom, load_bundle(tmp_path / "lcc"), SegmentOptions(device="cpu", regions=False))
    assert np.array_equal(from_bundle.label, lcc.label)
