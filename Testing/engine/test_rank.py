"""``sgrs rank`` (issue 14, item 6): cases in (folder, manifest, several paths), the ranked list with each
case's Δ∪Θ share and foreground mL and a progress file out, the score pluggable, bad input one line."""
import json
import subprocess
import sys

import pytest
from conftest import ROOT

from sgrs.inference.rank import SCORES, case_list
from sgrs.method.names import DEFAULT_RANK_SCORE, RANK_SCORES
from sgrs.util.errors import InputError

DEMO = ROOT / "Resources" / "Demo" / "model"


def sgrs(*args, check=True):
    done = subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True,
                          timeout=600)
    assert not check or done.returncode == 0, done.stderr
    return done


def test_the_scores_are_the_names_the_guis_offer():
    assert tuple(SCORES) == RANK_SCORES and DEFAULT_RANK_SCORE == "mean-entropy"  # docs/trust.md: the benchmark


def test_case_list_takes_folders_manifests_and_paths(tiny_cohort, tmp_path):
    images = sorted((tiny_cohort / "images").glob("*.nrrd"))
    assert [cid for cid, _ in case_list([tiny_cohort / "images"])] == [p.name.split(".")[0] for p in images]
    cases = [{"id": "a", "image": str(images[0]), "label": str(tiny_cohort / "labels" / images[0].name)},
             {"id": "b", "image": str(images[1])}, {"id": "c", "image": str(images[2]), "split": "test"}]
    (tmp_path / "manifest.json").write_text(json.dumps({"cases": cases}))
    assert [cid for cid, _ in case_list([tmp_path])] == ["b", "c"]  # the folder's manifest: its unlabelled
    assert [cid for cid, _ in case_list([tmp_path / "manifest.json"])] == ["b", "c"]
    assert [cid for cid, _ in case_list([images[1], images[0], images[1]])] == \
        [images[1].name.split(".")[0], images[0].name.split(".")[0]]  # in order, once each
    with pytest.raises(InputError, match="no such file"):
        case_list([tmp_path / "nothing"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "manifest.json").write_text(json.dumps({"cases": [{"image": "a.nrrd", "label": "b.nrrd"}]}))
    with pytest.raises(InputError, match="no case to rank"):
        case_list([tmp_path / "empty"])


def test_sgrs_rank_from_the_command_line(tiny_cohort, tmp_path):
    images = sorted((tiny_cohort / "images").glob("*.nrrd"))[:3]
    out, progress = tmp_path / "ranking.json", tmp_path / "progress.jsonl"
    done = sgrs("rank", *images, "--model", DEMO, "--device", "cpu", "--out", out, "--progress-file", progress,
                "--score", "delta-theta")
    ranking = json.loads(out.read_text())
    assert ranking["score"] == "delta-theta" and len(ranking["cases"]) == 3
    rows = ranking["cases"]
    assert {r["id"] for r in rows} == {p.name.split(".")[0] for p in images}
    for r in rows:
        assert 0.0 <= r["share"] <= 1.0 and r["foreground_ml"] >= 0.0 and r["score"] == r["share"]
    predicted = [r["score"] for r in rows if r["foreground_ml"] > 0]
    assert predicted == sorted(predicted, reverse=True)
    assert rows[0]["id"] in done.stdout.splitlines()[1]  # the order is printed
    events = [json.loads(line) for line in progress.read_text().splitlines()]
    assert [e["done"] for e in events if e["event"] == "progress"] == [0, 1, 2, 3]
    assert events[-1] == {"event": "finished", "ranking": ranking}

    entropy = json.loads(sgrs("rank", *images, "--model", DEMO, "--device", "cpu", "--score", "entropy",
                              "--json").stdout)
    assert entropy["score"] == "entropy" and all(0.0 <= r["score"] <= 1.0 for r in entropy["cases"])
    assert {r["id"]: r["share"] for r in entropy["cases"]} == pytest.approx({r["id"]: r["share"] for r in rows})


def test_bad_input_is_one_line(tmp_path):
    done = sgrs("rank", tmp_path / "missing.nrrd", "--model", DEMO, check=False)
    assert done.returncode != 0 and done.stderr.strip().count("\n") == 0
    assert "missing.nrrd: no such file or folder" in done.stderr
    (tmp_path / "a.nrrd").write_text("not an image")
    done = sgrs("rank", tmp_path / "a.nrrd", "--model", tmp_path, check=False)
    assert done.returncode != 0 and done.stderr.strip().count("\n") == 0 and "model.json" in done.stderr
