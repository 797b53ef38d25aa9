"""Faster inference (issue 17): BatchNorm folding, the mixed view only near the structure, --fast,
the OpenVINO backend, the time split in summary.json, and benchmarks/speed/gpu_check.py on the CPU."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT

from sgrs import cli
from sgrs.data.image_io import Geometry, write_image
from sgrs.data.normalize import Normalization
from sgrs.data.phantom import make_case
from sgrs.inference import backends
from sgrs.inference.defaults import DEFAULT_OVERLAP, FAST_OVERLAP, MIXED_OVERLAP
from sgrs.inference.segment import DELTA, SegmentOptions, segment_array
from sgrs.inference.sliding import count_windows, model_predictor, sliding_window, window_grid
from sgrs.models.bundle import load_bundle
from sgrs.models.vnet import VNet, fold_batchnorm
from sgrs.util.errors import SGRSError

DEMO = ROOT / "Resources" / "Demo" / "model"
PATCH = (48, 48, 32)  # the demo model's


@pytest.fixture(scope="module")
def demo_case():
    """A phantom with 72 voxels of air beside it (as a CT has around the body): windows with nothing
    but air exist."""
    image, truth, _ = make_case(3, 2026)
    image = np.pad(image, ((0, 72), (0, 0), (0, 0)), constant_values=float(image.min()))
    return image, np.pad(truth, ((0, 72), (0, 0), (0, 0))), Geometry(image.shape, (1.25,) * 3, (0.0, 0.0, 0.0),
                                                                    (1, 0, 0, 0, 1, 0, 0, 0, 1))


def test_folded_batchnorm_gives_the_same_network_and_leaves_the_model_alone():
    torch.manual_seed(0)
    model = VNet(2, 4).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(2, 1, 32, 32, 16) * 3 + 1)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_batchnorm(model)
    x = torch.randn(2, 1, 32, 32, 16)
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in folded.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("mixed_overlap", [DEFAULT_OVERLAP, MIXED_OVERLAP])  # the plain view's grid, its own
def test_mixed_view_near_the_structure_keeps_labels_and_regions_of_the_segmentation(demo_case, mixed_overlap):
    image, _, geom = demo_case
    bundle = load_bundle(DEMO)
    options = {"device": "cpu", "backend": "torch", "mixed_overlap": mixed_overlap}
    near = segment_array(image, geom, bundle, SegmentOptions(**options))
    full = segment_array(image, geom, bundle, SegmentOptions(**options, mixed_view="all"))
    net_near, net_full = near.summary["scan"]["network"], full.summary["scan"]["network"]
    assert net_near["windows_mixed"] < net_full["windows_mixed"] == count_windows(image.shape, PATCH, mixed_overlap)
    assert np.array_equal(near.label, full.label) and np.array_equal(near.entropy, full.entropy)
    fg = full.label > 0
    assert fg.sum() > 1000
    assert np.array_equal(near.regions[fg], full.regions[fg])  # exact on the segmentation
    assert np.array_equal(near.regions == DELTA, full.regions == DELTA) or \
        ((near.regions == DELTA) <= (full.regions == DELTA)).all()  # Δ is only ever lost far from it
    for key in ("omega", "theta", "delta"):
        assert near.summary["regions"][key]["share_of_foreground"] == full.summary["regions"][key]["share_of_foreground"]


def test_the_mixed_views_grid_changes_the_region_maps_only(demo_case):
    """The label and the entropy map come from the plain view: the same whatever the mixed view's
    grid; the mixed view on its own grid is the one a run at that overlap computes."""
    image, _, geom = demo_case
    bundle = load_bundle(DEMO)
    runs = {o: segment_array(image, geom, bundle, SegmentOptions(device="cpu", backend="torch", mixed_overlap=o))
            for o in (DEFAULT_OVERLAP, MIXED_OVERLAP)}
    fine, coarse = runs[DEFAULT_OVERLAP], runs[MIXED_OVERLAP]
    assert np.array_equal(fine.label, coarse.label) and np.array_equal(fine.entropy, coarse.entropy)
    def listed(seg):  # the review list comes from the entropy map; only its reasons name Δ or Θ
        return [{k: v for k, v in r.items() if k != "reason"} for r in seg.summary["review_regions"]]
    assert fine.summary["case_flag"] == coarse.summary["case_flag"] and listed(fine) == listed(coarse)
    assert coarse.summary["region_rule"]["mixed_overlap"] == MIXED_OVERLAP
    norm = np.ascontiguousarray(Normalization.from_json(bundle.meta["normalization"])(image), dtype=np.float32)
    predict = model_predictor(bundle.model)
    args = (predict, norm, PATCH, 2)
    kw = {"batch_size": 2, "mix_reference": bundle.mix_reference}
    both_coarse = sliding_window(*args, overlap=MIXED_OVERLAP, **kw)
    own_grid = sliding_window(*args, overlap=DEFAULT_OVERLAP, mixed_overlap=MIXED_OVERLAP, **kw)
    plain_fine = sliding_window(*args, overlap=DEFAULT_OVERLAP, **kw)
    assert torch.allclose(own_grid[1], both_coarse[1], atol=1e-6)     # P_M: the coarse grid's
    assert torch.equal(own_grid[0], plain_fine[0])                     # P_U: the fine grid's
    assert not torch.allclose(own_grid[1], plain_fine[1], atol=1e-6)  # the grids do differ here


def test_the_mixed_view_on_its_own_grid_near_the_structure_is_exact_or_the_plain_view(demo_case):
    """Each voxel gets the full mixed view where every window of its grid covering it ran, and the
    plain view elsewhere: never a partial sum."""
    image, _, _ = demo_case
    bundle = load_bundle(DEMO)
    norm = np.ascontiguousarray(Normalization.from_json(bundle.meta["normalization"])(image), dtype=np.float32)
    kw = {"batch_size": 2, "mix_reference": bundle.mix_reference, "overlap": DEFAULT_OVERLAP,
          "mixed_overlap": MIXED_OVERLAP}
    args = (model_predictor(bundle.model), norm, PATCH, 2)
    p_u, full = sliding_window(*args, **kw)
    where = lambda p: p[1] > 0.5  # noqa: E731 (the foreground of the plain view)
    p_u_near, near = sliding_window(*args, mixed_where=where, **kw)
    grid = window_grid(norm.shape, PATCH, MIXED_OVERLAP)
    fg = (p_u[1] > 0.5).numpy()
    ran, skipped = np.zeros(norm.shape, bool), np.zeros(norm.shape, bool)
    for w in grid:
        grown = tuple(slice(max(0, s.start - 1), s.stop + 1) for s in w)
        (ran if fg[grown].any() else skipped)[w] = True
    assert ran.any() and skipped.any() and (ran & skipped).any()  # the case the rule is for exists
    exact = ran & ~skipped
    assert torch.equal(p_u_near, p_u)
    assert torch.allclose(near[:, exact], full[:, exact], atol=1e-6)
    assert torch.equal(near[:, ~exact], p_u[:, ~exact])


def test_fast_uses_fewer_windows_and_says_so(demo_case, tmp_path, capsys):
    image, _, geom = demo_case
    write_image(image, geom, tmp_path / "scan.nrrd")
    args = ["segment", str(tmp_path / "scan.nrrd"), "--model", str(DEMO), "--device", "cpu", "--backend", "torch"]
    assert cli.main(args + ["--out", str(tmp_path / "a")]) == 0
    assert cli.main(args + ["--out", str(tmp_path / "b"), "--fast"]) == 0
    out = capsys.readouterr().out
    default, fast = (json.loads((tmp_path / k / "summary.json").read_text()) for k in "ab")
    assert (default["overlap"], fast["overlap"], fast["fast"]) == (DEFAULT_OVERLAP, FAST_OVERLAP, True)
    plain = default["scan"]["network"]["windows_plain"]
    assert plain == count_windows(image.shape, PATCH, DEFAULT_OVERLAP)
    assert default["windows"] == plain + default["scan"]["network"]["windows_mixed"]   # both views, as progress
    assert fast["scan"]["network"]["windows_plain"] < plain and fast["windows"] < default["windows"]
    split = default["scan"]["seconds"]
    assert set(split) == {"read", "prepare", "network", "maps", "scores", "write"} and all(v >= 0 for v in split.values())
    assert default["scan"]["network"]["seconds_per_window"] > 0
    assert "time: read" in out


def test_openvino_backend_gives_the_torch_labels(demo_case, tmp_path, monkeypatch):
    pytest.importorskip("openvino")
    monkeypatch.setenv("SGRS_CACHE", str(tmp_path / "cache"))
    image, _, geom = demo_case
    bundle = load_bundle(DEMO)
    torch_seg = segment_array(image, geom, bundle, SegmentOptions(device="cpu", backend="torch"))
    ov_seg = segment_array(image, geom, bundle, SegmentOptions(device="cpu", backend="openvino"))
    assert ov_seg.summary["scan"]["network"]["backend"] == "openvino"
    assert np.array_equal(ov_seg.label, torch_seg.label)
    assert (ov_seg.regions != torch_seg.regions).mean() < 1e-4
    assert len(list((tmp_path / "cache" / "openvino").iterdir())) == 1  # converted once, kept
    again = segment_array(image, geom, bundle, SegmentOptions(device="cpu", backend="openvino"))  # from the cache
    assert np.array_equal(again.label, ov_seg.label)


def test_openvino_missing_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(backends, "openvino_available", lambda: False)
    with pytest.raises(SGRSError, match="'openvino' is not installed"):
        backends.make_predictor(VNet(2, 2), torch.device("cpu"), "openvino", (32, 32, 16))
    assert backends.make_predictor(VNet(2, 2), torch.device("cpu"), "auto", (32, 32, 16)).name == "torch"


def test_gpu_check_runs_on_the_cpu_with_small_sizes():
    script = ROOT / "benchmarks" / "speed" / "gpu_check.py"
    done = subprocess.run([sys.executable, str(script), "--device", "cpu", "--small", "--skip-tests"],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "| yes" in line]
    assert len(rows) == 3, done.stdout
    assert "training step fp32 vs bf16" in done.stdout and "relative difference" in done.stdout


@pytest.mark.parametrize("preset, torch_first, expected", [(None, False, "True PASSIVE"), ("ACTIVE", False, "True ACTIVE"),
                                                           (None, True, "False unset")])
def test_engine_processes_ask_openmp_to_wait_passively(preset, torch_first, expected):
    import os
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | {"PYTHONPATH": str(ROOT)}
    if preset:
        env["OMP_WAIT_POLICY"] = preset
    code = ("import os\n" + ("import torch\n" if torch_first else "") +
            "from sgrs.util.threads import passive_openmp\n"
            "print(passive_openmp(), os.environ.get('OMP_WAIT_POLICY', 'unset'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.strip() == expected, done.stderr
