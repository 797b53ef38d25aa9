"""Faster inference (issue 17): BatchNorm folding, the mixed view only near the structure, --fast,
the OpenVINO backend, the time split in summary.json, and benchmarks/gpu_check.py on the CPU."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT

from sgrs import cli
from sgrs.data.image_io import Geometry, write_image
from sgrs.data.phantom import make_case
from sgrs.inference import backends
from sgrs.inference.segment import DELTA, SegmentOptions, segment_array
from sgrs.models.bundle import load_bundle
from sgrs.models.vnet import VNet, fold_batchnorm
from sgrs.util.errors import SGRSError

DEMO = ROOT / "Resources" / "Demo" / "model"


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


def test_mixed_view_near_the_structure_keeps_labels_and_regions_of_the_segmentation(demo_case):
    image, _, geom = demo_case
    bundle = load_bundle(DEMO)
    near = segment_array(image, geom, bundle, SegmentOptions(device="cpu", backend="torch"))
    full = segment_array(image, geom, bundle, SegmentOptions(device="cpu", backend="torch", mixed_view="all"))
    net_near, net_full = near.summary["scan"]["network"], full.summary["scan"]["network"]
    assert net_near["windows_mixed"] < net_full["windows_mixed"] == net_full["windows_plain"]
    assert np.array_equal(near.label, full.label) and np.array_equal(near.entropy, full.entropy)
    fg = full.label > 0
    assert fg.sum() > 1000
    assert np.array_equal(near.regions[fg], full.regions[fg])  # exact on the segmentation
    assert np.array_equal(near.regions == DELTA, full.regions == DELTA) or \
        ((near.regions == DELTA) <= (full.regions == DELTA)).all()  # Δ is only ever lost far from it
    for key in ("omega", "theta", "delta"):
        assert near.summary["regions"][key]["share_of_foreground"] == full.summary["regions"][key]["share_of_foreground"]


def test_fast_uses_fewer_windows_and_says_so(demo_case, tmp_path, capsys):
    image, _, geom = demo_case
    write_image(image, geom, tmp_path / "scan.nrrd")
    args = ["segment", str(tmp_path / "scan.nrrd"), "--model", str(DEMO), "--device", "cpu", "--backend", "torch"]
    assert cli.main(args + ["--out", str(tmp_path / "a")]) == 0
    assert cli.main(args + ["--out", str(tmp_path / "b"), "--fast"]) == 0
    out = capsys.readouterr().out
    default, fast = (json.loads((tmp_path / k / "summary.json").read_text()) for k in "ab")
    assert (default["overlap"], fast["overlap"], fast["fast"]) == (0.5, 0.25, True)
    assert fast["windows"] < default["windows"]
    split = default["scan"]["seconds"]
    assert set(split) == {"read", "prepare", "network", "maps", "write"} and all(v >= 0 for v in split.values())
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
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--small",
                           "--skip-tests"], capture_output=True, text=True, timeout=900, cwd=ROOT)
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
