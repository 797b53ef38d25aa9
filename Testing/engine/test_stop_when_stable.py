"""Issue 28 item 4, a fine-tuning lever: ``stop_when_stable`` ends a run once its predictions on the unlabelled
cases stop changing (two labelled cases leave no validation split; the test split is never used)."""
import json

import numpy as np
import pytest

from sgrs.models.bundle import load_bundle
from sgrs.training.config import TrainConfig
from sgrs.training.job import read_events
from sgrs.training.loop import train
from sgrs.training.stability import agreement
from sgrs.util.errors import SGRSError


def _fine_tune(tiny_cohort, tiny_bundle, out, iterations, every, dice, freeze=0):
    config = TrainConfig(str(tiny_cohort / "manifest.json"), str(out), labelled=2, val=0, iterations=iterations,
                         patch=(32, 32, 16), batch=4, device="cpu", seed=5, method="supervised",
                         base_model=str(tiny_bundle), stop_when_stable=every, stable_dice=dice, freeze_encoder=freeze)
    return train(config, show_bar=False), read_events(out / "progress.jsonl")


def _stability(events):
    return [e for e in events if e["event"] == "stability"]


def test_agreement_pools_the_foreground_of_every_case_and_two_empty_segmentations_are_no_evidence():
    a = np.zeros((4, 4, 4), np.uint8)
    a[:2] = 1
    b = a.copy()
    b[1] = 0                              # half of a's foreground
    assert agreement([a], [a]) == 1.0
    assert agreement([a], [b]) == pytest.approx(2 * 16 / (32 + 16))
    assert agreement([a, a], [a, b]) == pytest.approx(2 * 48 / (64 + 48))
    other = np.where(a > 0, 2, 0).astype(np.uint8)   # same voxels, another class: not the same segmentation
    assert agreement([a], [other]) == 0.0
    assert agreement([np.zeros_like(a)], [np.zeros_like(a)]) is None


def test_a_run_whose_predictions_stop_changing_ends_early_with_a_complete_model(tiny_cohort, tiny_bundle, tmp_path):
    model, events = _fine_tune(tiny_cohort, tiny_bundle, tmp_path / "job", iterations=8, every=1, dice=0.5)
    checks = _stability(events)
    # iteration 1 has nothing to compare with; 2 and 3 agree: two checks in a row end the run at 3 of 8
    assert [e["iteration"] for e in checks] == [1, 2, 3]
    assert checks[0]["agreement"] is None and all(e["agreement"] >= 0.5 for e in checks[1:])
    assert [e["in_a_row"] for e in checks] == [0, 1, 2]
    assert [e["iteration"] for e in events if e["event"] == "converged"] == [3]
    assert events[-1]["event"] == "finished" and events[-1]["iteration"] == 3
    bundle = load_bundle(model)
    assert bundle.meta["provenance"]["iterations"] == 3
    assert not [e for e in events if e["event"] == "step" and e["iteration"] > 3]
    assert json.loads((tmp_path / "job" / "config.json").read_text())["stop_when_stable"] == 1


def test_the_checks_start_when_the_frozen_encoder_thaws(tiny_cohort, tiny_bundle, tmp_path):
    _model, events = _fine_tune(tiny_cohort, tiny_bundle, tmp_path / "job", iterations=8, every=1, dice=0.5, freeze=3)
    assert [e["iteration"] for e in _stability(events)] == [4, 5, 6]   # not during the 3 frozen iterations
    assert events[-1]["event"] == "finished" and events[-1]["iteration"] == 6


def test_a_run_whose_predictions_keep_changing_runs_every_iteration(tiny_cohort, tiny_bundle, tmp_path):
    model, events = _fine_tune(tiny_cohort, tiny_bundle, tmp_path / "job", iterations=5, every=1, dice=0.9999)
    checks = _stability(events)
    assert [e["iteration"] for e in checks] == [1, 2, 3, 4]   # none at the last iteration: the run ends anyway
    assert all(e["agreement"] < 0.9999 for e in checks[1:])
    assert not [e for e in events if e["event"] == "converged"]
    assert events[-1]["event"] == "finished" and events[-1]["iteration"] == 5
    assert load_bundle(model).meta["provenance"]["iterations"] == 5


def test_off_by_default_and_bad_settings_are_refused_in_one_line(tiny_cohort, tiny_bundle, tmp_path):
    assert TrainConfig("c", "o").stop_when_stable == 0
    with pytest.raises(SGRSError, match="stopping when stable needs"):
        _fine_tune(tiny_cohort, tiny_bundle, tmp_path / "bad", iterations=1, every=1, dice=1.5)
