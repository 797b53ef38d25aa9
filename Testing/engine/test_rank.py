"""``sgrs rank`` (issue 14, item 6): cases in (folder, manifest, several paths), the ranked list with each
case's Δ∪Θ share and foreground mL and a progress file out, the score pluggable, bad input one line."""
import json
import subprocess
import sys

import pytest
from conftest import ROOT

from sgrs.inference.rank import NO_RANK, SCORES, RankedCase, case_list, format_score, rank_rows
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
    predicted = [r["score"] for r in rows if r["suggested"]]
    assert predicted == sorted(predicted, reverse=True)
    assert rows[0]["id"] in done.stdout.splitlines()[2]  # the order is printed, under the column headings
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


def noise_scan(path):
    """A scan of pure noise: the demo model finds no atrium-like structure in it (flag: likely failed)."""
    import numpy as np

    from sgrs.data.image_io import Geometry, write_image

    a = np.random.default_rng(0).normal(0, 1, (40, 40, 24)).astype(np.float32)
    return write_image(a, Geometry(a.shape, (1.5, 1.5, 2.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1)), path)


def test_the_text_output_shows_score_and_flag_and_leaves_likely_failed_out_of_the_suggestions(tiny_cohort,
                                                                                              tmp_path):
    """Issue 25: the printed list had no case-flag column, and a scan flagged likely failed was ranked
    last without a word. Now every row says rank, case, score (as the JSON has it, 4 decimals), flag,
    and a likely failed scan is listed unnumbered after the suggestions, saying why."""
    images = sorted((tiny_cohort / "images").glob("*.nrrd"))[:2]
    out = tmp_path / "ranking.json"
    done = sgrs("rank", *images, noise_scan(tmp_path / "noise.nrrd"), "--model", DEMO, "--device", "cpu",
                "--out", out)
    cases = json.loads(out.read_text())["cases"]
    lines = done.stdout.splitlines()
    assert lines[1].split() == ["#", "case", "score", "case", "flag", "note"]
    rows = [line.split(maxsplit=3) for line in lines[2:]]
    assert [r[1] for r in rows] == [c["id"] for c in cases] and len(rows) == 3
    for (rank, _case, score, rest), c in zip(rows, cases):
        assert score == format_score(c["score"]) and rest.startswith(c["flag"])
        assert (rank != NO_RANK) == c["suggested"] == (c["flag"] != "likely failed")
    noise = next(line for line in lines if " noise " in line)
    assert noise.split()[0] == NO_RANK and "likely failed" in noise
    assert "not suggested: likely failed (" in noise and "check the scan and the model first" in noise
    suggested = [r[0] for r in rows if r[0] != NO_RANK]
    assert suggested == [str(i) for i in range(1, len(suggested) + 1)]
    assert rows[-1][1] == "noise"   # after every suggestion
    assert "not suggested (likely failed)" in lines[0]


def test_rank_rows_number_the_suggestions_only():
    ranked = [RankedCase("a", "a.nrrd", 0.05, 0.1, 3.0, "review"), RankedCase("b", "b.nrrd", 0.03, 0.0, 0.0, "ok"),
              RankedCase("c", "c.nrrd", 0.02, 0.0, 0.0, "likely failed", ("nothing segmented",))]
    rows = rank_rows(ranked)
    assert [(r.rank, r.case, r.score, r.flag) for r in rows] == [
        ("1", "a", "0.0500", "review"), ("2", "b", "0.0300", "ok"), (NO_RANK, "c", "0.0200", "likely failed")]
    assert rows[0].note == "Δ∪Θ 10.0 % of 3.00 mL" and rows[1].note == "nothing predicted"
    assert rows[2].note == "not suggested: likely failed (nothing segmented) — check the scan and the model first"
    assert [r.suggested for r in rows] == [True, True, False]
