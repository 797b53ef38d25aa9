"""While a fine-tuned model waits for Keep or Roll back (issue 28 item 2, found by the Slicer review of the
decision): Train waits too, saying why (a new run would take the job's place and the waiting model would never be
offered again), and Keep's / Roll back's outcome reaches the status line even after a Collect. The waiting job is
a real job folder as the engine leaves it (its bundle, progress events and check.json); no run is needed."""
import json
import shutil

import pytest
from test_keep_or_roll_back import fine_tune, registered, segmentations_logic, two_labelled_scene  # noqa: F401

from sgrs.training.compare import write_check
from sgrs.util.errors import SGRSError


def waiting_job(jobs, base, dice=(0.88, 0.76)):
    folder = jobs / "job-waiting"
    folder.mkdir(parents=True)
    shutil.copytree(base, folder / "model")
    (folder / "config.json").write_text(json.dumps({"base_model": str(base)}))
    events = [{"event": "started", "iteration": 0, "iterations": 2},
              {"event": "finished", "model": str(folder / "model")}]
    (folder / "progress.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    new, old = dice
    write_check(folder, {"cases": ["case001"], "kind": "held out",
                         "base": {"name": "tiny", "dice": old, "per_case": {}},
                         "new": {"dice": new, "per_case": {}}, "difference": round(new - old, 4)})
    return folder


def test_train_waits_while_a_new_model_waits(scene, segmentations_logic, tiny_cohort, tiny_bundle, tmp_path):
    session, _ = two_labelled_scene(scene, segmentations_logic, tiny_cohort, tmp_path)
    params = fine_tune(tiny_bundle)
    assert session.action(params).enabled, session.action(params).reason   # the scene's cases can train
    folder = waiting_job(tmp_path / "jobs", tiny_bundle)
    assert session.attach(folder) == "done" and session.deciding
    action = session.action(params)
    assert not action.enabled and action.reason.startswith("A new model is waiting: keep it or roll back")
    with pytest.raises(SGRSError, match="A new model is waiting"):
        session.start(params)
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir() if p.is_dir()) == [folder.name], "no job started"
    assert session.status_line(params) == session.message, "the check says it once: keep it, or roll back"
    assert session.message.startswith("New model: Dice 0.88 on case001 (base model 0.76)")
    session.keep()
    assert session.action(params).enabled, session.action(params).reason


@pytest.mark.parametrize("choice, said", [("keep", "Finished: model '"), ("roll_back", "Rolled back: the base model")])
def test_keep_or_roll_back_after_a_collect_is_said(scene, segmentations_logic, tiny_cohort, tiny_bundle, tmp_path,
                                                   choice, said):
    session, _ = two_labelled_scene(scene, segmentations_logic, tiny_cohort, tmp_path)
    params = fine_tune(tiny_bundle)
    folder = waiting_job(tmp_path / "jobs", tiny_bundle)
    session.attach(folder)
    session.collect(params)   # the user collects the cases again while the new model waits
    assert session.poll() == "done" and session.status_line(params).startswith("New model: Dice 0.88")
    getattr(session, choice)()
    session.poll()   # the panel polls after the click
    assert session.status_line(params).startswith(said), session.status_line(params)
    assert len(registered(tmp_path)) == (choice == "keep")
