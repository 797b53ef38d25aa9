"""Images, labels and cohorts through the real readers and writers; every kind of bad input."""
import json

import nrrd
import numpy as np
import pytest
import SimpleITK as sitk

from sgrs.data.cohort import load_cohort
from sgrs.data.image_io import Geometry, read_image, read_label, write_image
from sgrs.data.normalize import Normalization
from sgrs.data.sampler import BatchSampler
from sgrs.util.errors import InputError

GEOM = Geometry((6, 5, 4), (0.7, 0.8, 1.5), (-3.0, 2.0, 10.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))


def test_axis_convention_is_x_y_z_as_pynrrd_reads_it(tmp_path):
    array = np.arange(6 * 5 * 4, dtype=np.float32).reshape(6, 5, 4)
    write_image(array, GEOM, tmp_path / "a.nrrd")
    ours, geom = read_image(tmp_path / "a.nrrd")
    assert ours.shape == (6, 5, 4) and geom == GEOM
    assert np.array_equal(ours, array)
    official, _ = nrrd.read(str(tmp_path / "a.nrrd"))  # how the official data was read
    assert np.array_equal(ours, official)
    img = sitk.ReadImage(str(tmp_path / "a.nrrd"))
    assert img.GetPixel(5, 1, 2) == ours[5, 1, 2]


def test_bad_images_get_one_clear_line(tmp_path):
    write_image(np.zeros((6, 5, 4), np.float32), GEOM, tmp_path / "ok.nrrd", compress=False)
    data = (tmp_path / "ok.nrrd").read_bytes()
    (tmp_path / "cut.nrrd").write_bytes(data[: len(data) - 100])
    (tmp_path / "junk.nii.gz").write_bytes(b"\x00garbage" * 20)
    sitk.WriteImage(sitk.Image(8, 8, sitk.sitkFloat32), str(tmp_path / "flat.nrrd"))
    sitk.WriteImage(sitk.Image([4, 4, 4, 3], sitk.sitkFloat32), str(tmp_path / "four.nii.gz"))
    sitk.WriteImage(sitk.Image([4, 4, 4], sitk.sitkVectorFloat32, 3), str(tmp_path / "rgb.nrrd"))
    nan = np.zeros((6, 5, 4), np.float32)
    nan[1, 2, 3] = np.nan
    nan[0, 0, 0] = np.inf
    write_image(nan, GEOM, tmp_path / "nan.nrrd")
    cases = {"missing.nrrd": "file not found", "cut.nrrd": "corrupt, truncated", "junk.nii.gz": "cannot read",
             "flat.nrrd": "is 2D", "four.nii.gz": "is 4D", "rgb.nrrd": "3 components", "nan.nrrd": "2 NaN/Inf"}
    for name, message in cases.items():
        with pytest.raises(InputError, match=message) as info:
            read_image(tmp_path / name)
        assert str(tmp_path / name) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("field, value, message", [
    ("size", (6, 5, 5), "size"), ("spacing", (0.7, 0.8, 1.0), "spacing"),
    ("origin", (0.0, 2.0, 10.0), "origin"), ("direction", (0, 1, 0, 1, 0, 0, 0, 0, 1), "direction")])
def test_label_geometry_must_match_its_image(tmp_path, field, value, message):
    geom = Geometry(**{**GEOM.__dict__, field: value})
    write_image(np.zeros(geom.size, np.uint8), geom, tmp_path / "lab.nrrd")
    with pytest.raises(InputError, match=f"label geometry does not match.*{message}"):
        read_label(tmp_path / "lab.nrrd", 2, GEOM, "img.nrrd")


def test_label_values_outside_the_classes_are_refused(tmp_path):
    lab = np.zeros(GEOM.size, np.uint8)
    lab[0, 0, 0] = 3
    write_image(lab, GEOM, tmp_path / "lab.nrrd")
    with pytest.raises(InputError, match=r"label values \[3\] outside the classes 0..1"):
        read_label(tmp_path / "lab.nrrd", 2, GEOM)


def test_phantom_cohort_splits_and_normalisation(tiny_cohort):
    cohort = load_cohort(tiny_cohort, labelled=2)
    assert [c.id for c in cohort.labelled] == ["case000", "case001"]
    assert [c.id for c in cohort.unlabelled] == ["case002", "case003"]
    assert [c.id for c in cohort.val] == ["case004"] and cohort.test_ids == ["case005"]
    assert all(c.label is None for c in cohort.unlabelled)
    img = cohort.labelled[0].image
    assert abs(img.mean()) < 1e-4 and abs(img.std() - 1) < 1e-3
    assert cohort.labelled[0].label.max() == 1


def test_ct_window_clips_before_zscore():
    x = np.array([-1000.0, 0.0, 100.0, 3000.0], np.float32).reshape(1, 1, 4)
    y = Normalization.parse_window("-125,275")(x)
    clipped = np.array([-125, 0, 100, 275], np.float32)
    assert np.allclose(y.ravel(), (clipped - clipped.mean()) / clipped.std(), atol=1e-5)


def test_csv_manifest_and_val_taken_from_train(tiny_cohort, tmp_path):
    rows = ["id,image,label,split"] + [
        f"c{i},{tiny_cohort}/images/case00{i}.nrrd,{tiny_cohort}/labels/case00{i}.nrrd," for i in range(4)]
    rows.append(f"u9,{tiny_cohort}/images/case004.nrrd,,train")
    (tmp_path / "m.csv").write_text("\n".join(rows))
    cohort = load_cohort(tmp_path / "m.csv", labelled=1, val=1)
    assert [c.id for c in cohort.labelled] == ["c0"]
    assert [c.id for c in cohort.val] == ["c3"]
    assert [c.id for c in cohort.unlabelled] == ["c1", "c2", "u9"]


def test_cohort_errors(tiny_cohort, tmp_path):
    manifest = json.loads((tiny_cohort / "manifest.json").read_text())
    with pytest.raises(InputError, match="cohort not found"):
        load_cohort(tmp_path / "nope")
    with pytest.raises(InputError, match="no manifest"):
        load_cohort(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"cases": []}))
    with pytest.raises(InputError, match="empty cohort"):
        load_cohort(tmp_path)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(InputError, match="not a valid manifest"):
        load_cohort(tmp_path)
    no_labels = [{k: (str(tiny_cohort / v) if k == "image" else v) for k, v in c.items() if k != "label"}
                 for c in manifest["cases"]]
    (tmp_path / "manifest.json").write_text(json.dumps({"cases": no_labels}))
    with pytest.raises(InputError, match="no labelled case"):
        load_cohort(tmp_path)
    with pytest.raises(InputError, match="only 4 train cases have a label"):
        load_cohort(tiny_cohort, labelled=9)
    with pytest.raises(InputError, match="no unlabelled case"):
        load_cohort(tiny_cohort, labelled=4)
    assert len(load_cohort(tiny_cohort, labelled=4, need_unlabelled=False).labelled) == 4


def test_official_h5_layout(tmp_path):
    import h5py

    rng = np.random.default_rng(0)
    ids = [f"P{i}" for i in range(5)]
    for i, cid in enumerate(ids):
        (tmp_path / "2018LA_Seg_Training Set" / cid).mkdir(parents=True)
        with h5py.File(tmp_path / "2018LA_Seg_Training Set" / cid / "mri_norm2.h5", "w") as f:
            f["image"] = rng.standard_normal((20, 18, 16)).astype(np.float32)
            f["label"] = (rng.random((20, 18, 16)) > 0.7).astype(np.uint8)
    (tmp_path / "train.list").write_text("\n".join(ids[:4]) + "\n")
    (tmp_path / "test.list").write_text(ids[4] + "\n")
    cohort = load_cohort(tmp_path, labelled=2, val=1)
    assert [c.id for c in cohort.labelled] == ["P0", "P1"]
    assert [c.id for c in cohort.unlabelled] == ["P2"] and [c.id for c in cohort.val] == ["P3"]
    assert cohort.test_ids == ["P4"] and cohort.labelled[0].image.shape == (20, 18, 16)


def test_batches_are_a_function_of_the_step_and_keep_labels_aligned(tiny_cohort):
    cohort = load_cohort(tiny_cohort, labelled=2)
    # a label that is a function of the image lets us check that crops, rotations and flips align
    for c in cohort.labelled:
        c.label = (c.image > 0.5).astype(np.uint8)
    sampler = BatchSampler(cohort.labelled, cohort.unlabelled, (48, 32, 16), 2, 3, seed=5)
    a, b = sampler.batch(7), sampler.batch(7)
    assert all(torch_equal(x, y) for x, y in zip(a, b))
    assert not torch_equal(a[0], sampler.batch(8)[0])
    x_l, y_l, x_u = a
    assert x_l.shape == (2, 1, 48, 32, 16) and y_l.shape == (2, 48, 32, 16) and x_u.shape == (3, 1, 48, 32, 16)
    inside = x_l[:, 0] > x_l.amin(dim=(1, 2, 3), keepdim=True)[:, 0]  # not padding
    assert np.array_equal((x_l[:, 0] > 0.5).numpy() & inside.numpy(), y_l.numpy().astype(bool) & inside.numpy())
    streamed = list(sampler.iterate(3, 6))
    assert [t for t, _ in streamed] == [3, 4, 5]
    assert torch_equal(streamed[1][1][0], sampler.batch(4)[0])


def test_a_loop_that_ends_early_leaves_no_batch_thread_running(tiny_cohort):
    """A training run that fails mid-loop (its job folder deleted) exits while the batch thread may be
    inside torch; a thread still there at exit aborted the process ('terminate called without an
    active exception', exit -6, once in a clean-clone suite). Closing the loop joins it."""
    import threading
    cohort = load_cohort(tiny_cohort, labelled=2)
    sampler = BatchSampler(cohort.labelled, cohort.unlabelled, (48, 32, 16), 2, 3, seed=5)
    for _ in range(5):
        batches = sampler.iterate(0, 1000)
        next(batches)
        batches.close()   # what an exception in the training loop does to the generator
        assert not [t for t in threading.enumerate() if t.name == "sgrs-batches"]


def torch_equal(a, b):
    return bool((a == b).all())
