"""Metrics equal medpy.metric.binary (the test-only reference) on random and real-shaped masks."""
import numpy as np
import pytest
from medpy.metric import binary as medpy

from sgrs.data.phantom import make_case
from sgrs.evaluation.metrics import all_metrics, largest_component

SPACINGS = [None, (0.625, 0.625, 2.5), (1.0, 0.7, 3.0)]


def random_pair(seed):
    rng = np.random.default_rng(seed)
    a = rng.random((24, 20, 16)) > 0.7
    b = a.copy()
    flip = rng.random(a.shape) > 0.85
    b[flip] = ~b[flip]
    return a, b


def phantom_pair(seed):
    _, truth, _ = make_case(seed, seed=9, size=(48, 48, 32))
    pred = np.roll(truth, 2, axis=0) | np.roll(truth, -1, axis=2)  # a shifted, swollen prediction
    pred[:5, :5, :5] = 1  # plus a distant false positive
    return pred.astype(bool), truth.astype(bool)


@pytest.mark.parametrize("make", [random_pair, phantom_pair])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("spacing", SPACINGS)
def test_equal_to_medpy(make, seed, spacing):
    pred, truth = make(seed)
    ours = all_metrics(pred, truth, spacing)
    ref = {"dice": medpy.dc(pred, truth), "jaccard": medpy.jc(pred, truth),
           "hd95": medpy.hd95(pred, truth, spacing), "asd": medpy.asd(pred, truth, spacing),
           "assd": medpy.assd(pred, truth, spacing)}
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key


def test_empty_mask_convention():
    empty, full = np.zeros((5, 5, 5), bool), np.zeros((5, 5, 5), bool)
    full[2, 2, 2] = True
    both = all_metrics(empty, empty)
    assert both == {"dice": 1.0, "jaccard": 1.0, "hd95": 0.0, "asd": 0.0, "assd": 0.0}
    one = all_metrics(empty, full)
    assert one["dice"] == 0.0 and np.isnan(one["hd95"]) and np.isnan(one["assd"])


def test_largest_component_keeps_the_biggest_blob():
    mask = np.zeros((10, 10, 10), bool)
    mask[1:5, 1:5, 1:5] = True
    mask[8, 8, 8] = True
    kept = largest_component(mask)
    assert kept.sum() == 64 and not kept[8, 8, 8]


def test_evaluate_command_matches_medpy_in_mm_and_voxels(tmp_path):
    import csv
    import os
    import subprocess
    import sys

    from conftest import ROOT

    from sgrs.data.image_io import Geometry, write_image

    geom = Geometry((48, 48, 32), (0.8, 0.9, 2.0), (1.0, 2.0, 3.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    (tmp_path / "pred" / "case1").mkdir(parents=True)
    (tmp_path / "truth").mkdir()
    expected = {}
    for cid in ("case0", "case1"):
        pred, truth = phantom_pair(int(cid[-1]))
        write_image(truth.astype(np.uint8), geom, tmp_path / "truth" / f"{cid}.nii.gz")
        target = tmp_path / "pred" / ("case1/label.nrrd" if cid == "case1" else f"{cid}.nrrd")
        write_image(pred.astype(np.uint8), geom, target)
        expected[cid] = (medpy.hd95(pred, truth, geom.spacing), medpy.assd(pred, truth), medpy.dc(pred, truth))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "sgrs", "evaluate", "--pred", str(tmp_path / "pred"),
                             "--truth", str(tmp_path / "truth")], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "2 cases" in result.stdout and "dice" in result.stdout
    rows = {r["case"]: r for r in csv.DictReader(open(tmp_path / "pred" / "metrics.csv"))}
    assert set(rows) == {"case0", "case1", "mean", "sd"}
    for cid, (hd95_mm, assd_vox, dc) in expected.items():
        assert float(rows[cid]["hd95_mm"]) == pytest.approx(hd95_mm, abs=1e-5)
        assert float(rows[cid]["assd_vox"]) == pytest.approx(assd_vox, abs=1e-5)
        assert float(rows[cid]["dice"]) == pytest.approx(dc, abs=1e-5)
    assert float(rows["mean"]["dice"]) == pytest.approx(np.mean([e[2] for e in expected.values()]), abs=1e-5)


def run_evaluate(pred, truth):
    import os
    import subprocess
    import sys

    from conftest import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sgrs", "evaluate", "--pred", str(pred), "--truth", str(truth)],
                          capture_output=True, text=True, env=env, timeout=300)


def write_cases(folder, names):
    from sgrs.data.image_io import Geometry, write_image

    folder.mkdir(parents=True, exist_ok=True)
    geom = Geometry((24, 24, 16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    for i, name in enumerate(names):
        write_image(phantom_pair(i)[0][::2, ::2, ::2].astype(np.uint8), geom, folder / f"{name}.nrrd")


def test_evaluate_names_the_cases_it_could_not_pair(tmp_path):
    write_cases(tmp_path / "pred", ["case0", "case1", "extra-pred"])
    write_cases(tmp_path / "truth", ["case0", "case1", "lonely-truth"])
    result = run_evaluate(tmp_path / "pred", tmp_path / "truth")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2 cases ")
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.stderr
    assert "1 prediction " in lines[0] and "without a ground truth" in lines[0] and lines[0].endswith("extra-pred")
    assert "1 ground truth " in lines[1] and "without a prediction" in lines[1] and lines[1].endswith("lonely-truth")


def test_evaluate_with_nothing_to_pair_fails_in_one_line(tmp_path):
    write_cases(tmp_path / "pred", ["a"])
    write_cases(tmp_path / "truth", ["b", "c"])
    result = run_evaluate(tmp_path / "pred", tmp_path / "truth")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("sgrs: error: ")
    assert "nothing was evaluated" in result.stderr and "predictions: a; ground truths: b, c" in result.stderr
    write_cases(tmp_path / "one", ["b"])
    assert run_evaluate(tmp_path / "one", tmp_path / "truth").stdout.startswith("1 case ")
