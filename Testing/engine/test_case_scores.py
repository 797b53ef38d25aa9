"""Case scores (issue 26): each against a hand computation, the bundle's feature statistics written
and read back, ``sgrs calibrate`` and ``sgrs segment --tta`` through the real CLI."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from sgrs.inference.case_flag import worst_scores
from sgrs.inference.case_scores import (boundary_band, dice, mean_entropy, non_boundary_entropy, pairwise_dice,
                                        structure_scores)
from sgrs.inference.features import FeatureStats, read_feature_stats, write_feature_stats


def line_mask():
    """A 1×1×10 line with voxels 3..5 set: small enough to compute every score by hand."""
    m = np.zeros((1, 1, 10), bool)
    m[0, 0, 3:6] = True
    return m


def test_mean_entropy_is_the_mean_near_the_structure():
    mask = line_mask()
    ent = np.arange(10, dtype=np.float64).reshape(1, 1, 10) / 10
    # grown by 1 voxel: indices 2..6 → mean of 0.2..0.6 = 0.4
    assert mean_entropy(ent, mask, margin=1) == pytest.approx(0.4)
    # uint8 maps are read as 0..255
    assert mean_entropy(np.full((1, 1, 10), 51, np.uint8), mask, margin=1) == pytest.approx(0.2)
    # nothing predicted: the whole scan
    assert mean_entropy(ent, np.zeros_like(mask), margin=1) == pytest.approx(0.45)


def test_non_boundary_entropy_leaves_the_boundary_band_out():
    mask = line_mask()
    # band 1 around a 3-voxel line: grown 2..6, eroded (inner) is index 4 only → band = 2,3,5,6
    assert np.flatnonzero(boundary_band(mask, 1)[0, 0]).tolist() == [2, 3, 5, 6]
    ent = np.zeros((1, 1, 10))
    ent[0, 0, [2, 3, 5, 6]] = 1.0   # high entropy at the boundary only: a correct result's look
    ent[0, 0, 7] = 0.5              # inside the margin-2 neighbourhood, off the band
    # near (margin 2) = 1..7; minus the band → 1, 4, 7 → (0 + 0 + 0.5) / 3
    assert non_boundary_entropy(ent, mask, margin=2, band=1) == pytest.approx(0.5 / 3)
    assert mean_entropy(ent, mask, margin=2) == pytest.approx(4.5 / 7)


def test_view_and_tta_disagreement_are_one_minus_dice_per_structure():
    plain = np.zeros((1, 2, 5), np.uint8)
    plain[0, 0, :4] = 1          # 4 voxels of class 1
    plain[0, 1, :2] = 2          # 2 voxels of class 2
    mixed = plain.copy()
    mixed[0, 0, 3] = 0           # class 1: 3 of 4 kept → Dice 6/7
    flip = plain.copy()
    flip[0, 1, :2] = 0           # class 2 gone in one TTA pass
    assert dice(plain == 1, mixed == 1) == pytest.approx(6 / 7)
    # pairs (plain, mixed, flip) of class 2: 1, 0, 0 → mean 1/3
    assert pairwise_dice([plain == 2, mixed == 2, flip == 2]) == pytest.approx(1 / 3)
    ent = np.zeros(plain.shape, np.uint8)
    s = structure_scores(plain, ent, 3, views=(plain, mixed), tta_labels=[plain, mixed, flip])
    assert s[1]["view_disagreement"] == pytest.approx(1 - 6 / 7, abs=1e-6)
    assert s[2]["view_disagreement"] == 0.0
    assert s[2]["tta_disagreement"] == pytest.approx(2 / 3, abs=1e-6)
    assert "tta_disagreement" not in structure_scores(plain, ent, 3)[1]
    regions = np.full(plain.shape, 1, np.uint8)        # Ω everywhere but
    regions[0, 0, 0], regions[0, 0, 1], regions[0, 1, 0] = 3, 2, 2   # Δ and Θ on class 1, Θ on class 2
    by_region = structure_scores(plain, ent, 3, regions=regions)
    assert by_region[1]["uncertain_share"] == pytest.approx(2 / 4) and by_region[2]["uncertain_share"] == 0.5
    # the flag takes the worst structure of each score
    worst = worst_scores({"structures": {"a": s[1], "b": s[2]}, "feature_distance": 2.5})
    assert worst["view_disagreement"] == s[1]["view_disagreement"]
    assert worst["tta_disagreement"] == s[2]["tta_disagreement"] and worst["feature_distance"] == 2.5


def test_feature_distance_is_the_mahalanobis_distance_of_the_standardised_features():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(6, 3)) * [1.0, 5.0, 0.2] + [10, -3, 0]
    stats = FeatureStats.fit(train)
    assert stats.basis.shape == (3, 3)   # min(8, n - 1, d): every direction kept, no residual
    z = (train - train.mean(0)) / train.std(0)
    cov = np.cov(z, rowvar=False)
    ridge = 1e-3 * np.linalg.eigvalsh(cov).max()
    x = np.array([12.0, 4.0, 0.5])
    zx = (x - train.mean(0)) / train.std(0)
    by_hand = float(np.sqrt(zx @ np.linalg.inv(cov + ridge * np.eye(3)) @ zx))
    own = [float(np.sqrt(v @ np.linalg.inv(cov + ridge * np.eye(3)) @ v)) for v in z]
    assert stats.distance_q95 == pytest.approx(np.quantile(own, 0.95), rel=1e-6)
    assert stats.distance(x) == pytest.approx(by_hand / np.quantile(own, 0.95), rel=1e-6)
    # a point off the training cases' subspace is far even with fewer cases than features
    flat = FeatureStats.fit(np.array([[0, 0, 0], [1, 1, 0], [2, 2, 0], [3, 3.1, 0]], float))
    assert flat.distance(np.array([1.5, 1.5, 0])) < 1.0 < flat.distance(np.array([1.5, -1.5, 0]))


def test_feature_knn_is_the_mean_distance_to_the_nearest_training_cases_in_the_whitened_pca_basis():
    train = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [1.0, 1.0]])
    stats = FeatureStats.fit(train)
    assert stats.knn_k == 3 and stats.points.shape == (5, 2)
    # by hand: standardise, rotate onto the principal axes, divide each by its standard deviation
    z = (train - train.mean(0)) / train.std(0)
    evals, evecs = np.linalg.eigh(np.cov(z, rowvar=False))
    ridge = 1e-3 * evals.max()
    w = z @ evecs / np.sqrt(evals + ridge)
    d = np.sqrt(((w[:, None] - w[None]) ** 2).sum(-1))
    own = [np.sort(np.delete(d[i], i))[:3].mean() for i in range(5)]   # leave one out: 3 nearest others
    assert stats.knn_q95 == pytest.approx(np.quantile(own, 0.95), rel=1e-6)
    x = np.array([2.0, -1.0])
    wx = ((x - train.mean(0)) / train.std(0)) @ evecs / np.sqrt(evals + ridge)
    by_hand = np.sort(np.sqrt(((w - wx) ** 2).sum(1)))[:3].mean() / np.quantile(own, 0.95)
    assert stats.knn_distance(x) == pytest.approx(by_hand, rel=1e-6)
    assert stats.knn_distance(train[1]) < stats.knn_distance(np.array([9.0, -6.0]))
    # with 3 cases only 2 others exist: both are averaged, for the percentile and a new scan alike
    assert FeatureStats.fit(train[:3]).knn_k == 2


def test_feature_statistics_are_written_into_the_bundle_and_read_back(tiny_bundle, tmp_path):
    from sgrs.models.bundle import load_bundle

    bundle_dir = shutil.copytree(tiny_bundle, tmp_path / "b")
    stats = FeatureStats.fit(np.random.default_rng(1).normal(size=(5, 4)))
    entry = write_feature_stats(bundle_dir, stats)
    meta = load_bundle(bundle_dir).meta            # the bundle still loads and verifies
    assert meta["feature_stats"] == entry and entry["cases"] == 5
    back = read_feature_stats(bundle_dir, meta)
    for key in ("mean", "scale", "basis", "variances", "points"):
        np.testing.assert_allclose(getattr(back, key), getattr(stats, key))
    assert back.distance_q95 == stats.distance_q95 and back.knn_q95 == stats.knn_q95 and back.inputs == ("whole",)
    x = np.arange(4.0)
    assert back.knn_distance(x) == pytest.approx(stats.knn_distance(x))
    with open(bundle_dir / entry["file"], "r+b") as f:   # changed file: ignored, never trusted
        f.seek(-4, 2)
        f.write(b"\0\0\0\0")
    assert read_feature_stats(bundle_dir, meta) is None


def run_cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_sgrs_calibrate_then_segment_reports_every_score(tiny_bundle, tiny_cohort, tmp_path):
    bundle_dir = shutil.copytree(tiny_bundle, tmp_path / "b")
    scan = tiny_cohort / json.loads((tiny_cohort / "manifest.json").read_text())["cases"][-1]["image"]
    before = run_cli("segment", scan, "--model", bundle_dir, "--out", tmp_path / "s0", "--device", "cpu")
    assert before.returncode == 0, before.stderr
    assert json.loads((tmp_path / "s0" / "summary.json").read_text())["case_scores"]["feature_distance"] is None
    cal = run_cli("calibrate", bundle_dir, "--cohort", tiny_cohort, "--quiet")
    assert cal.returncode == 0, cal.stderr
    assert "stored feature statistics of 4 cases" in cal.stdout
    assert json.loads((bundle_dir / "model.json").read_text())["feature_stats"]["source"] == "calibrate"
    seg = run_cli("segment", scan, "--model", bundle_dir, "--out", tmp_path / "s", "--device", "cpu", "--tta", "3",
                  "--feature-distance")
    assert seg.returncode == 0, seg.stderr
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    scores = summary["case_scores"]
    assert scores["tta"] == 3 and scores["feature_distance"] > 0
    assert set(scores["structures"]["left atrium"]) == {"mean_entropy", "non_boundary_entropy", "uncertain_share",
                                                       "view_disagreement", "tta_disagreement"}
    assert summary["review"]["measures"]["feature_distance"] == scores["feature_distance"]
    assert "tta" in summary["scan"]["seconds"] and "scores" in summary["scan"]["seconds"]
    few = run_cli("calibrate", bundle_dir, "--cohort", scan)
    assert few.returncode != 0 and "at least 3 cases" in few.stderr and "Traceback" not in few.stderr


def test_sgrs_calibrate_takes_a_registry_name(tiny_bundle, tiny_cohort, tmp_path, monkeypatch):
    from sgrs.models.registry import register

    registry = tmp_path / "registry"
    stored = register(tiny_bundle, name="heart", folder=registry).path
    monkeypatch.setenv("SGRS_MODELS", str(registry))
    cal = run_cli("calibrate", "heart", "--cohort", tiny_cohort, "--quiet")
    assert cal.returncode == 0, cal.stderr
    assert json.loads((stored / "model.json").read_text())["feature_stats"]["cases"] == 4
    assert "feature_stats" not in json.loads((tiny_bundle / "model.json").read_text())  # the copy, not the source


def test_the_risk_rule_flags_the_worst_structure_with_the_reason_of_its_largest_input():
    from sgrs.inference.case_flag import case_flag
    from sgrs.inference.risk_score import flag_inputs, risk_score

    rule = {"inputs": ["feature_distance", "view_disagreement"], "mean": [0.5, 0.1], "sd": [0.5, 0.1],
            "weights": [-1.0, 1.0, 2.0], "review": 0.0}
    measures = {"foreground_ml": 10.0, "volume_ratio": 1.0, "feature_distance": np.expm1(1.5),
                "structure_scores": {"a": {"view_disagreement": 0.05}, "b": {"view_disagreement": 0.3}}}
    # by hand: a: -1 + (1.5 - 0.5) / 0.5 + 2 (0.05 - 0.1) / 0.1 = 0; b: -1 + 2 + 2 (0.3 - 0.1) / 0.1 = 5
    assert risk_score(flag_inputs(measures, {"view_disagreement": 0.05}), rule)[0] == pytest.approx(0.0)
    risk, top = risk_score(flag_inputs(measures, {"view_disagreement": 0.3}), rule)
    assert risk == pytest.approx(5.0) and top == "view_disagreement"
    flag = case_flag(measures, {"risk": rule})
    assert flag.flag == "review" and len(flag.reasons) == 1 and flag.reasons[0].startswith("b: ")
    # an input the result lacks counts as its calibration mean: no feature statistics, risk a = -1 - 1 = -2
    calm = {**measures, "feature_distance": None, "structure_scores": {"a": {"view_disagreement": 0.05}}}
    assert case_flag(calm, {"risk": rule}).flag == "ok"
    # without a risk rule the same measures raise nothing
    assert case_flag(measures, {"risk": None}).flag == "ok"


def test_a_fine_tuned_model_gets_statistics_of_its_own_training_cases(tiny_bundle, tiny_cohort, tmp_path):
    from sgrs.models.bundle import load_bundle
    from sgrs.training.config import TrainConfig
    from sgrs.training.loop import train

    base = shutil.copytree(tiny_bundle, tmp_path / "base")
    fake = FeatureStats.fit(np.random.default_rng(2).normal(size=(5, 32)) + 100.0)  # 2 filters: 32 features
    write_feature_stats(base, fake)
    out = train(TrainConfig(str(tiny_cohort), str(tmp_path / "job"), labelled=2, iterations=2, patch=(32, 32, 16),
                            batch=4, device="cpu", seed=1, val_every=2, base_model=str(base)), show_bar=False)
    meta = load_bundle(out).meta
    own = read_feature_stats(out, meta)
    assert meta["feature_stats"]["source"] == "training" and own.cases == 4
    assert not np.allclose(own.mean, fake.mean)


def test_statistics_stored_before_knn_still_give_the_mahalanobis_distance(tiny_bundle, tiny_cohort, tmp_path):
    """A bundle calibrated before the kNN distance and the one-pass features (entry without ``inputs``,
    file without ``points``) is scored as it was stored: centre window + whole scan, no kNN, no warning."""
    from sgrs.data.image_io import read_image
    from sgrs.inference.features import OLD_INPUTS, pooled_features
    from sgrs.inference.segment import SegmentOptions, segment_array
    from sgrs.models.bundle import load_bundle

    bundle_dir = shutil.copytree(tiny_bundle, tmp_path / "b")
    bundle = load_bundle(bundle_dir)
    rng = np.random.default_rng(5)
    old = np.stack([pooled_features(bundle.model, rng.normal(size=(32, 32, 16)), bundle.patch_size, inputs=OLD_INPUTS)
                    for _ in range(4)])
    stats = FeatureStats.fit(old, "calibrate", OLD_INPUTS)
    stats.points = stats.knn_q95 = None
    write_feature_stats(bundle_dir, stats)
    meta = json.loads((bundle_dir / "model.json").read_text())
    del meta["feature_stats"]["inputs"]                      # as stored before
    (bundle_dir / "model.json").write_text(json.dumps(meta, indent=1) + "\n")
    back = read_feature_stats(bundle_dir, meta)
    assert back.inputs == OLD_INPUTS and back.points is None and back.mean.size == 2 * 32
    scan = tiny_cohort / json.loads((tiny_cohort / "manifest.json").read_text())["cases"][-1]["image"]
    image, geometry = read_image(scan)
    seg = segment_array(image, geometry, load_bundle(bundle_dir), SegmentOptions(device="cpu", feature_distance=True))
    scores = seg.summary["case_scores"]
    assert scores["feature_distance"] > 0 and scores["feature_knn"] is None
    assert not any("feature statistics" in w for w in seg.summary["warnings"])


def test_the_feature_pass_runs_by_default_only_when_the_flag_reads_a_feature_distance(tiny_bundle, tiny_cohort,
                                                                                      tmp_path, monkeypatch):
    """The feature pass is ~10 % of a segmentation of a few windows (docs/trust.md): the default path makes
    it only when case_flag.RULES' review rule reads it; ``feature_distance=True`` (--feature-distance) always."""
    import sgrs.inference.case_flag as cf
    from sgrs.data.image_io import read_image
    from sgrs.inference.segment import SegmentOptions, segment_array
    from sgrs.models.bundle import load_bundle

    bundle_dir = shutil.copytree(tiny_bundle, tmp_path / "b")
    write_feature_stats(bundle_dir, FeatureStats.fit(np.random.default_rng(3).normal(size=(5, 32))))
    bundle = load_bundle(bundle_dir)
    scan = tiny_cohort / json.loads((tiny_cohort / "manifest.json").read_text())["cases"][-1]["image"]
    image, geometry = read_image(scan)

    def distance(**kw):
        return segment_array(image, geometry, bundle, SegmentOptions(device="cpu", **kw)).summary["case_scores"][
            "feature_knn"]

    knn_rule = {"inputs": ["feature_knn"], "mean": [0.0], "sd": [1.0], "weights": [0.0, 1.0], "review": 0.5}
    share_rule = {**knn_rule, "inputs": ["uncertain_share"]}
    monkeypatch.setitem(cf.RULES, "risk", share_rule)
    assert not cf.reads_features() and distance() is None and distance(feature_distance=True) > 0
    monkeypatch.setitem(cf.RULES, "risk", [share_rule, knn_rule])
    assert cf.reads_features() and distance() > 0 and distance(feature_distance=False) is None
