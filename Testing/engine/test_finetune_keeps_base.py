"""Issue 28, item 1: a fine-tuned model keeps what its base model was (classes with colour and
terminology, post-processing, normalisation, spacing, patch) and names it (content hash, lineage);
the cohort's classes meet the base's by terminology, then name; model.json has a schema version and
every bundle written before still loads."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from class_fixtures import THREE_CLASSES, split_label, three_class_bundle
from conftest import ROOT

from sgrs.data.cohort import load_cohort
from sgrs.data.image_io import read_image, read_label, write_image
from sgrs.models.bundle import load_bundle
from sgrs.models.card import card_lines
from sgrs.models.classes import DICOM_MASTER_LIST
from sgrs.models.meta import SCHEMA_VERSION, content_hash, read_meta
from sgrs.training.config import TrainConfig
from sgrs.training.loop import train
from sgrs.util.errors import InputError, ModelError

DEMO = ROOT / "Resources" / "Demo" / "model"
TINY = dict(labelled=2, iterations=1, batch=4, device="cpu", seed=3, method="supervised")


def run_cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def manifest_copy(cohort, folder, classes=None, relabel=None, absent=None):
    """The cohort's train/val cases in a new manifest (absolute paths); ``classes`` None names none;
    ``relabel(label) -> label`` rewrites the labels; ``absent`` per case id."""
    folder.mkdir(parents=True, exist_ok=True)
    data = json.loads((cohort / "manifest.json").read_text())
    cases = []
    for case in data["cases"]:
        if case["split"] == "test":
            continue
        entry = {**case, "image": str(cohort / case["image"])}
        if relabel is not None:
            image, geometry = read_image(cohort / case["image"])
            label = relabel(read_label(cohort / case["label"], 2, geometry))
            entry["label"] = str(write_image(label, geometry, folder / f"{case['id']}_label.nrrd"))
        else:
            entry["label"] = str(cohort / case["label"])
        if absent and case["id"] in absent:
            entry["absent"] = absent[case["id"]]
        cases.append(entry)
    manifest = {"cases": cases, **({"classes": classes} if classes is not None else {})}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder / "manifest.json"


def test_cli_fine_tuning_the_demo_model_keeps_left_atrium_lcc_and_names_its_base(tiny_cohort, tmp_path):
    manifest = manifest_copy(tiny_cohort, tmp_path / "cohort")   # a manifest that names no classes
    done = run_cli("train", "--cohort", manifest, "--out", tmp_path / "job", "--base-model", DEMO,
                   "--iterations", 2, "--labelled", 2, "--method", "supervised", "--device", "cpu")
    assert done.returncode == 0, done.stderr[-2000:]
    meta, base = read_meta(tmp_path / "job" / "model"), read_meta(DEMO)
    atrium = meta["classes"][1]
    assert atrium["name"] == "left atrium" and atrium["color"] == base["classes"][1]["color"]
    assert atrium["terminology"]["type"] == ["SCT", "82471001", "Left atrium"]
    assert atrium["terminology"]["context"] == DICOM_MASTER_LIST
    assert meta["postprocess"] == "lcc"
    for key in ("normalization", "spacing", "patch_size", "orientation"):
        assert meta[key] == base[key], key
    assert meta["schema_version"] == SCHEMA_VERSION
    prov = meta["provenance"]
    assert prov["base_model"] == base["name"] and prov["base_model_sha256"] == content_hash(base)
    assert [b["sha256"] for b in prov["lineage"]] == [content_hash(base)]
    method = dict(card_lines(meta))["Method"]
    assert f"fine-tuned from {base['name']} (content {content_hash(base)[:12]})" in method


def test_the_demo_models_terminology_is_in_the_dicom_master_list():
    """SlicerGeneralAnatomy lacks SCT 82471001: the demo names the master list's context."""
    term = read_meta(DEMO)["classes"][1]["terminology"]
    assert term["context"] == DICOM_MASTER_LIST and term["type"][1] == "82471001"


def test_an_explicit_postprocess_still_wins(tiny_cohort, tmp_path):
    out = train(TrainConfig(str(manifest_copy(tiny_cohort, tmp_path / "c")), str(tmp_path / "job"),
                            base_model=str(DEMO), patch=(48, 48, 32), postprocess="none", **TINY), show_bar=False)
    assert read_meta(out)["postprocess"] == "none"


def test_a_three_class_base_keeps_its_classes_and_labels_meet_them_by_terminology(tiny_cohort, tmp_path):
    """The manifest lists the classes in another order and other names; the codes decide."""
    base = three_class_bundle(tmp_path / "organs")
    renamed = [{"name": "background"}, {"name": "Milz", "terminology": THREE_CLASSES[2]["terminology"]},
               {"name": "Leber", "terminology": THREE_CLASSES[1]["terminology"]}]
    manifest = manifest_copy(tiny_cohort, tmp_path / "cohort", renamed, relabel=split_label)  # 1 = Milz (spleen)
    base_classes = read_meta(base)["classes"]
    cohort = load_cohort(manifest, labelled=2, need_unlabelled=False, base_classes=base_classes)
    original = split_label(read_label(tiny_cohort / "labels" / "case000.nrrd", 2))
    case = next(c for c in cohort.labelled if c.id == "case000")
    assert np.array_equal(case.label == 2, original == 1) and np.array_equal(case.label == 1, original == 2)
    assert cohort.classes == ["background", "liver", "spleen"]

    out = train(TrainConfig(str(manifest), str(tmp_path / "job"), base_model=str(base), patch=(32, 32, 16),
                            **TINY), show_bar=False)
    meta = read_meta(out)
    assert [(c["name"], c["terminology"]["type"][1]) for c in meta["classes"][1:]] == \
        [("liver", "10200004"), ("spleen", "78961009")]
    assert meta["architecture"]["n_classes"] == 3 and meta["postprocess"] == "lcc"


def test_a_case_lacking_a_base_class_is_refused_unless_marked_absent(tiny_cohort, tmp_path):
    base = three_class_bundle(tmp_path / "organs")
    only_liver = manifest_copy(tiny_cohort, tmp_path / "cohort", ["background", "liver"])
    args = ["train", "--cohort", only_liver, "--base-model", base, "--iterations", 1, "--labelled", 2,
            "--method", "supervised", "--device", "cpu"]
    refused = run_cli(*args, "--out", tmp_path / "refused")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "lacks 'spleen'" in refused.stderr and "mark them absent" in refused.stderr
    assert not (tmp_path / "refused" / "model").exists()
    done = run_cli(*args, "--out", tmp_path / "marked", "--absent-classes", "spleen")
    assert done.returncode == 0, done.stderr[-2000:]
    with pytest.raises(InputError, match="'splen' is not a class of the base model"):   # a typo does nothing silently
        load_cohort(only_liver, labelled=2, need_unlabelled=False, base_classes=read_meta(base)["classes"],
                    absent=("splen",))

    # per case in the manifest: only the cases marked may lack it
    per_case = manifest_copy(tiny_cohort, tmp_path / "per-case", ["background", "liver", "spleen"],
                             absent={"case000": ["spleen"], "case004": ["spleen"]})
    base_classes = read_meta(base)["classes"]
    with pytest.raises(InputError, match="case case001: its label lacks 'spleen'"):
        load_cohort(per_case, labelled=2, need_unlabelled=False, base_classes=base_classes)
    assert len(load_cohort(per_case, labelled=1, need_unlabelled=False, base_classes=base_classes).labelled) == 1


def test_a_class_the_base_does_not_have_is_refused_in_one_line(tiny_cohort, tmp_path):
    manifest = manifest_copy(tiny_cohort, tmp_path / "cohort", ["background", "left atrium", "tumour"])
    done = run_cli("train", "--cohort", manifest, "--out", tmp_path / "job", "--base-model", DEMO,
                   "--iterations", 1, "--labelled", 2, "--device", "cpu")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    line, = done.stderr.strip().splitlines()
    assert "'tumour'" in line and "'left atrium'" not in line.split("are not classes")[0]
    assert "adding a class is not supported yet" in line


def test_the_base_models_trust_figures_and_statistics_are_never_copied(tiny_cohort, tmp_path):
    base = three_class_bundle(tmp_path / "organs", trust_marker="BASE-ONLY-FIGURE")
    manifest = manifest_copy(tiny_cohort, tmp_path / "cohort", ["background", "liver", "spleen"],
                             relabel=split_label)
    first = train(TrainConfig(str(manifest), str(tmp_path / "job1"), base_model=str(base), patch=(32, 32, 16),
                              **TINY), show_bar=False)
    assert "BASE-ONLY-FIGURE" not in (first / "model.json").read_text()
    # the chain: a model fine-tuned from a fine-tuned model names both ancestors, oldest first
    second = train(TrainConfig(str(manifest), str(tmp_path / "job2"), base_model=str(first), patch=(32, 32, 16),
                               **TINY), show_bar=False)
    lineage = read_meta(second)["provenance"]["lineage"]
    assert [b["name"] for b in lineage] == ["organs", "model"]
    assert [b["sha256"] for b in lineage] == [content_hash(read_meta(base)), content_hash(read_meta(first))]


def test_content_hash_follows_the_weights_not_the_folder(tmp_path):
    copy = shutil.copytree(DEMO, tmp_path / "renamed")
    assert content_hash(read_meta(copy)) == content_hash(read_meta(DEMO))
    meta = read_meta(DEMO)
    meta["sha256"]["student.safetensors"] = "0" * 64
    assert content_hash(meta) != content_hash(read_meta(DEMO))


def test_old_bundles_still_load_and_a_newer_schema_is_refused(tmp_path):
    """A model.json as written before schema_version, terminology contexts and lineage existed."""
    old = shutil.copytree(DEMO, tmp_path / "old")
    meta = json.loads((old / "model.json").read_text())
    for key in ("schema_version", "postprocess", "orientation", "mix_lambda", "tau", "delta_rule"):
        meta.pop(key, None)
    meta["classes"][1]["terminology"].pop("context")
    (old / "model.json").write_text(json.dumps(meta))
    bundle = load_bundle(old)
    assert bundle.meta["schema_version"] == 1 and bundle.n_classes == 2
    assert load_bundle(DEMO).meta["schema_version"] == SCHEMA_VERSION
    meta["schema_version"] = SCHEMA_VERSION + 1
    (old / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="newer than this engine reads"):
        read_meta(old)


def test_fine_tuning_an_old_bundle_gives_its_classes_the_master_list_context(tiny_cohort, tmp_path):
    old = shutil.copytree(DEMO, tmp_path / "old")
    meta = json.loads((old / "model.json").read_text())
    meta.pop("schema_version")
    meta["classes"][1]["terminology"].pop("context")
    (old / "model.json").write_text(json.dumps(meta))
    out = train(TrainConfig(str(manifest_copy(tiny_cohort, tmp_path / "c")), str(tmp_path / "job"),
                            base_model=str(old), patch=(48, 48, 32), **TINY), show_bar=False)
    term = read_meta(out)["classes"][1]["terminology"]
    assert term["context"] == DICOM_MASTER_LIST and term["type"][1] == "82471001"
