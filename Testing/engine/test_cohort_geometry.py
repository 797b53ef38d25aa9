"""Training cohorts in one orientation, and per-case ROI crops from the manifest (as segment --roi crops)."""
import json

import numpy as np
import pytest

from sgrs.data.cohort import load_cohort
from sgrs.data.image_io import write_image
from sgrs.data.orientation import reorientation
from sgrs.data.phantom import make_case
from sgrs.util.errors import InputError


@pytest.fixture()
def cohort_dir(tmp_path):
    """Three phantom cases; case1 written in RAS (flipped arrays, same anatomy), case2 with an ROI."""
    cases, originals = [], {}
    for i in range(3):
        image, label, geometry = make_case(i, 9, size=(40, 36, 24), spacing=(1.5, 1.5, 2.0))
        originals[f"case{i}"] = (image, label, geometry)
        if i == 1:
            r = reorientation(geometry, "RAS")
            image, label, geometry = r.apply(image), r.apply(label), r.geometry(geometry)
        write_image(np.ascontiguousarray(image), geometry, tmp_path / f"case{i}.nrrd")
        write_image(np.ascontiguousarray(label), geometry, tmp_path / f"case{i}_label.nrrd")
        cases.append({"id": f"case{i}", "image": f"case{i}.nrrd", "label": f"case{i}_label.nrrd"})
    o = np.asarray(originals["case2"][2].origin)
    cases[2]["roi"] = list(o + 6.0) + list(o + 6.0 + np.array([30.0, 24.0, 20.0]))
    (tmp_path / "manifest.json").write_text(json.dumps({"classes": ["background", "la"], "cases": cases}))
    return tmp_path, originals


def test_cases_are_reoriented_to_the_common_orientation_and_cropped_to_their_roi(cohort_dir):
    folder, originals = cohort_dir
    cohort = load_cohort(folder, labelled=3, need_unlabelled=False)
    assert cohort.orientation == "LPS"
    by_id = {c.id: c for c in cohort.labelled}
    flipped = by_id["case1"]
    assert flipped.geometry.mismatch(originals["case1"][2]) is None  # back on the LPS grid exactly
    assert np.array_equal(flipped.label, originals["case1"][1])
    cropped = by_id["case2"]
    assert cropped.image.shape == (20, 16, 10) == cropped.label.shape
    assert np.array_equal(cropped.label, originals["case2"][1][4:24, 4:20, 3:13])
    assert abs(float(cropped.image.mean())) < 1e-4 and abs(float(cropped.image.std()) - 1) < 1e-4  # ROI statistics
    assert load_cohort(folder, labelled=3, need_unlabelled=False, orientation="RAS").orientation == "RAS"


def test_a_bad_roi_in_the_manifest_names_the_case(cohort_dir):
    folder, _ = cohort_dir
    data = json.loads((folder / "manifest.json").read_text())
    data["cases"][0]["roi"] = [0, 0, 0, 1, 1]
    (folder / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"manifest.json: case case0: ROI must be six"):
        load_cohort(folder, labelled=3, need_unlabelled=False)
    data["cases"][0]["roi"] = [900, 900, 900, 950, 950, 950]
    (folder / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"case case0: ROI .* lies outside the image"):
        load_cohort(folder, labelled=3, need_unlabelled=False)
