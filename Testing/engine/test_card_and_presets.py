"""The model card (issue 18, item 5), training presets and estimates (item 8), trained-model names and
validation text (item 6), and fine-tuning that keeps the base model's spacing and patch (item 7)."""
import json
import sys

import numpy as np
import pytest
from conftest import ROOT

from sgrs.data.image_io import Geometry, read_image, write_image
from sgrs.inference.windows import WindowCount
from sgrs.models.bundle import read_meta
from sgrs.models.card import (
    approx_windows,
    card_lines,
    estimate_text,
    model_facts,
    record_timing,
    scan_warnings,
    seconds_per_window,
    validation_text,
)
from sgrs.training.presets import PRESETS, apply_preset, model_name, record_train_timing, train_estimate
from sgrs.util.progress import format_seconds

DEMO = ROOT / "Resources" / "Demo" / "model"
SAMPLE = ROOT / "Resources" / "Demo" / "sample" / "image.nrrd"


def ct_like(size=(80, 80, 40), spacing=(0.8, 0.8, 3.0)):
    """Air at −1000 HU, soft tissue ~40, bone 700: what an abdominal CT's intensities look like."""
    rng = np.random.default_rng(0)
    a = np.full(size, -1000.0, np.float32)
    a[10:-10, 10:-10, :] = 40 + 10 * rng.standard_normal((size[0] - 20, size[1] - 20, size[2]))
    a[35:45, 35:45, :] = 700
    return a, Geometry(size, spacing, (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))


def test_the_demo_card_says_synthetic_phantoms_and_flags_a_ct_before_the_run():
    meta = read_meta(DEMO)
    card = dict(card_lines(meta))
    assert "synthetic phantoms" in card["Trained on"] and "4 labelled + 8 unlabelled" in card["Trained on"]
    assert card["Modality"].startswith("MR or other") and card["Spacing"] == "1.25 × 1.25 × 1.25 mm"
    assert card["Classes"] == "left atrium" and "Dice 0.984 on 1 held-out case" in card["Validation"]
    # the sample comes from the model's world: nothing to announce
    array, geometry = read_image(SAMPLE)
    assert scan_warnings(meta, array, geometry) == []
    # an abdominal CT: another modality, another spacing, another size
    notes = scan_warnings(meta, *ct_like())
    assert any("looks like CT" in n and "trained on MR or other" in n for n in notes), notes
    assert any(n.startswith("spacing 0.8 × 0.8 × 3") for n in notes), notes
    # torch-free reading gives the same facts (desktop panels at set-up)
    assert card_lines(model_facts(DEMO)) == card_lines(meta)


def test_the_card_explains_a_missing_validation():
    meta = {"provenance": {"validation": None, "data": {"labelled": ["a", "b"], "unlabelled": ["c"], "val": []}}}
    text = validation_text(meta)
    assert text.startswith("not measured: there was no validation case") and "3 or more labelled" in text


@pytest.mark.parametrize("size,spacing,overlap", [((64, 64, 48), (1.25, 1.25, 1.25), 0.5),
                                                  ((200, 180, 60), (0.7, 0.7, 2.5), 0.25),
                                                  ((30, 30, 20), (1.25, 1.25, 1.25), 0.5)])
def test_window_count_matches_the_engine_for_axis_aligned_scans(size, spacing, overlap):
    from sgrs.inference.prepare import plan_scan
    from sgrs.inference.sliding import count_windows

    meta = read_meta(DEMO)
    geometry = Geometry(size, spacing, (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    engine = count_windows(plan_scan(geometry, meta).network_size, meta["patch_size"], overlap)
    assert approx_windows(meta, geometry, overlap, regions=False).total == engine
    assert approx_windows(meta, geometry, overlap).plain == engine


def test_estimates_use_seconds_measured_here(tmp_path):
    meta = read_meta(DEMO)
    assert seconds_per_window(tmp_path, meta, "cpu") is None
    assert "measured on the first run" in estimate_text(WindowCount(12), None)
    record_timing(tmp_path, meta, "cpu", windows=10, seconds=5.0)
    assert seconds_per_window(tmp_path, meta, "cpu") == 0.5
    assert seconds_per_window(tmp_path, meta, "auto") == 0.5       # "auto": what ran last
    record_timing(tmp_path, meta, "cuda", windows=10, seconds=0.5)
    record_timing(tmp_path, meta, "cpu", windows=10, seconds=6.0)    # cpu again, measured after cuda
    assert seconds_per_window(tmp_path, meta, "auto") == 0.6, "what ran last, not what ran first"
    record_timing(tmp_path, meta, "cpu", windows=10, seconds=5.0)
    assert estimate_text(WindowCount(12), 0.5) == "12 windows × 0.50 s ≈ 00:06 (measured here)"
    assert estimate_text(WindowCount(12, 6), 0.5) == \
        "18 windows (12 plain view + 6 region maps) × 0.50 s ≈ 00:09 (measured here)"
    assert estimate_text(WindowCount(12, 6, mixed_known=False), 0.5) == \
        "12 plain-view + up to 6 region-map windows × 0.50 s ≈ 00:06 to 00:09 (measured here)"

    guess = train_estimate(tmp_path, 2000, 16, 4, (96, 96, 80), "cpu", method="sgrs")
    assert "rough guess" in guess and guess.startswith("about ")
    hours = 2000 * 27.0 * (96 * 96 * 80) / (112 * 112 * 80) / 3600
    assert f"{int(hours)}:" in guess                               # hours on a CPU, said before Train
    record_train_timing(tmp_path, 16, 4, (96, 96, 80), "cpu", 2.0, method="sgrs")
    assert train_estimate(tmp_path, 300, 16, 4, (96, 96, 80), "cpu", method="sgrs") == \
        "about 10:00 (300 iterations × 2.00 s, measured on this machine)"
    # the sgrs run's speed is not the supervised fine-tuning's (a step without the teacher costs ~1/2.5)
    assert "rough guess" in train_estimate(tmp_path, 300, 16, 4, (96, 96, 80), "cpu", method="supervised")


def test_the_fine_tuning_preset_is_estimated_from_its_own_measured_speed(tmp_path):
    """The quick preset fine-tunes supervised with a frozen encoder (its extra arguments): the estimate reads
    the speed such a run recorded, not a from-scratch run's of the same network."""
    tune = apply_preset("quick look (CPU, minutes)", read_meta(DEMO))
    size = (tune["filters"], tune["batch"], tune["patch"], tune["device"])
    record_train_timing(tmp_path, *size, 3.0, method="sgrs")                 # from scratch, same network
    shown = train_estimate(tmp_path, tune["iterations"], *size, method=tune["method"], extra=tune["extra"])
    assert "rough guess" in shown
    record_train_timing(tmp_path, *size, 1.0, 5.0, method="supervised", frozen=True)   # as the loop keeps it
    assert train_estimate(tmp_path, tune["iterations"], *size, method=tune["method"], extra=tune["extra"]) == \
        f"about {format_seconds(5 + tune['iterations'])} ({tune['iterations']} iterations × 1.00 s + 00:05 to " \
        "start and save, measured on this machine)"
    assert "rough guess" in train_estimate(tmp_path, tune["iterations"], *size, method="supervised")


def test_presets_and_fine_tuning_keep_the_base_patch():
    quick = apply_preset("quick look (CPU, minutes)")
    assert quick["device"] == "cpu" and quick["filters"] == 8 and quick["iterations"] <= 500
    paper = apply_preset("paper")
    assert paper["patch"] == (112, 112, 80) and (paper["method"], paper["recipe"]) == ("sgrs", "paper")
    assert paper["extra"] == () and quick["method"] is None and quick["recipe"] is None  # leaves the user's
    tuned = apply_preset("standard (GPU)", read_meta(DEMO))
    assert tuned["patch"] == (48, 48, 32) and tuned["filters"] == 8
    assert tuned["method"] is None and tuned["extra"] == ()      # no fine-tuning settings: the user's method
    # the quick preset fine-tunes as the retrain benchmark measured best (docs/benchmarks.md); from scratch it
    # keeps the engine's defaults (docs/method.md)
    quick_tune = apply_preset("quick look (CPU, minutes)", read_meta(DEMO))
    assert quick_tune["method"] == "supervised" and "--freeze-encoder" in quick_tune["extra"]
    assert quick_tune["iterations"] == quick["iterations"] and quick["extra"] == ()
    assert set(PRESETS) == {"quick look (CPU, minutes)", "standard (GPU)", "paper"}
    with pytest.raises(ValueError, match="unknown preset"):
        apply_preset("fast")


def test_model_names_say_cohort_date_and_base():
    name = model_name("sample-and-2-more", "model", when=0)
    assert name.startswith("sample-and-2-more-1970") and name.endswith("-from-model")
    assert model_name("my cohort/x", None, when=0).endswith("-from-scratch") and "/" not in model_name("a/b", None)


def test_fine_tuning_keeps_the_base_models_spacing_and_patch(tmp_path, tiny_bundle, tiny_cohort):
    """A 1.5 × 1.5 × 2 mm base fine-tuned on 3 mm scans stays a 1.5 × 1.5 × 2 mm model (item 7)."""
    import subprocess

    coarse = tmp_path / "coarse"
    (coarse / "images").mkdir(parents=True)
    (coarse / "labels").mkdir()
    manifest = json.loads((tiny_cohort / "manifest.json").read_text())
    for case in manifest["cases"]:
        for key in ("image", "label"):
            if case.get(key):
                array, g = read_image(tiny_cohort / case[key])
                write_image(array, Geometry(g.size, (3.0, 3.0, 3.0), g.origin, g.direction), coarse / case[key])
    (coarse / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "job"
    run = subprocess.run([sys.executable, "-m", "sgrs", "train", "--cohort", str(coarse), "--out", str(out),
                          "--base-model", str(tiny_bundle), "--labelled", "2", "--iterations", "2", "--batch", "2",
                          "--device", "cpu",
                          "--val-every", "2"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    meta = read_meta(out / "model")
    assert meta["spacing"] == [1.5, 1.5, 2.0] and meta["patch_size"] == [32, 32, 16]
    assert meta["provenance"]["world"]["spacing"] == [3.0, 3.0, 3.0]    # what the data was, recorded
    assert meta["provenance"]["base_model"] == "tiny"
