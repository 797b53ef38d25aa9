"""Issue 18 on a real MRML scene: an empty annotation is never a label (item 4), the Segment session
announces a scan outside the model's world and the run time before it starts (items 5, 8), and a
trained model's finish line explains a missing validation (item 6)."""
import time

import numpy as np
import pytest
import slicer
from conftest import LAUNCHER, ROOT, load_node
from SGRSSegmentLib.labels import counts_as_label
from SGRSSegmentLib.parameters import SegmentParameters
from SGRSSegmentLib.session import SegmentSession
from SGRSTrainLib.cohort import collect_cases
from SGRSTrainLib.session import cohort_label, finished_message

from sgrs.data.image_io import Geometry, write_image
from sgrs.models.registry import register

DEMO = ROOT / "Resources" / "Demo" / "model"
SAMPLE = ROOT / "Resources" / "Demo" / "sample" / "image.nrrd"


@pytest.fixture(scope="module")
def segmentations_logic():
    return slicer.vtkSlicerSegmentationsModuleLogic()


def test_an_empty_annotation_is_no_label_until_painted(scene, segmentations_logic, tmp_path):
    volume = load_node(scene, SAMPLE, "sample")
    seg = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "sample annotation")
    seg.CreateDefaultDisplayNodes()
    seg.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    seg.GetSegmentation().AddEmptySegment("", "foreground")
    assert not counts_as_label(seg)
    assert not collect_cases(scene)[0].labelled         # Train will not fail on "… is empty"
    label = np.zeros((64, 64, 48), np.uint8)
    label[30:33, 30:33, 20:22] = 1
    path = tmp_path / "stroke.nrrd"
    write_image(label, Geometry((64, 64, 48), (1.25, 1.25, 1.25), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)), path)
    stroke = load_node(scene, path, "stroke", "vtkMRMLLabelMapVolumeNode")
    painted = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "painted")
    painted.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    assert segmentations_logic.ImportLabelmapToSegmentationNode(stroke, painted)
    assert counts_as_label(painted)


def ct_node(scene, tmp_path):
    a = np.full((64, 64, 24), -1000.0, np.float32)
    a[8:-8, 8:-8, :] = 40.0
    write_image(a, Geometry(a.shape, (0.8, 0.8, 3.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)),
                tmp_path / "ct.nrrd")
    return load_node(scene, tmp_path / "ct.nrrd", "ct")


def test_segment_preview_warns_and_estimates_from_the_measured_run(scene, tmp_path):
    registry = tmp_path / "registry"
    session = SegmentSession(scene, python=LAUNCHER, registry=registry)
    sample = load_node(scene, SAMPLE, "sample")
    params = SegmentParameters(volume=sample, model=str(DEMO), device="cpu")
    first = session.preview(params)
    assert first.warnings == [] and "measured on the first run" in first.estimate
    ct = session.preview(SegmentParameters(volume=ct_node(scene, tmp_path), model=str(DEMO), device="cpu"))
    assert any("looks like CT" in w for w in ct.warnings) and any(": spacing " in w for w in ct.warnings)

    session.start(params)
    while session.poll() == "running":
        time.sleep(0.05)
    assert session.state == "done", session.message
    again = session.preview(params)
    network = session.result.summary["scan"]["network"]   # the estimate counts the windows progress counted
    assert again.estimate.startswith(f"{network['windows_plain']} plain-view + up to ")
    assert again.estimate.endswith("(measured here)") and "first run" not in again.estimate


def test_the_finish_line_explains_a_model_without_validation(tiny_bundle, tmp_path):
    entry = register(tiny_bundle, "sample-20261201-1200-from-scratch", tmp_path / "registry")
    assert entry.name == "sample-20261201-1200-from-scratch"    # the name lists show, not "model"
    text = finished_message(entry)
    assert text.startswith("Finished: model 'sample-20261201-1200-from-scratch' is registered")
    assert "SGRS Segment" not in text and "Validation: not measured: there was no validation case" in text
    assert cohort_label([], "/data/liver/manifest.json") == "liver"


def test_the_heat_map_is_never_red_like_the_segmentation(scene):
    """Issue 18, item 9: heat map and segmentation were both red; the heat map is black → yellow → white."""
    from SGRSSegmentLib.result_nodes import heat_colors

    table = heat_colors(scene, "heat")
    rgba = np.array([table.GetLookupTable().GetTableValue(i) for i in range(256)])
    assert (rgba[:, 0] - rgba[:, 1] < 0.05).all()                 # no entry where red dominates green
    assert tuple(rgba[0, :3]) == (0, 0, 0) and tuple(rgba[255, :3]) == (1, 1, 1)


def test_desktop_train_presets_set_patch_and_announce_the_run_time(tmp_path):
    """SGRS Train's preset (issue 18, item 8): a preset the user picks sets the iterations and the
    estimate; the preset gives patch and filters, and fine-tuning keeps the base model's patch."""
    from types import SimpleNamespace

    from SGRSTrainLib.session import TrainSession, train_parameters_from_settings

    settings = SimpleNamespace(cohortFolder="", baseModel="", iterations=2000, batch=4, device="cpu",
                               preset="standard (GPU)", method="mean-teacher", recipe="default", teacher="recipe")
    session = TrainSession(None, None, tmp_path / "jobs", registry=tmp_path / "registry")
    text = session.estimate(settings, "standard (GPU)")           # a scene load: nothing changes
    assert settings.iterations == 2000 and text.startswith("Expected run time: about ") and "2000 iterations" in text
    text = session.estimate(settings, "quick look (CPU, minutes)")   # the user picks a preset
    assert settings.iterations == 300 and "300 iterations" in text and "2-core CPU" in text
    params = train_parameters_from_settings(settings)
    assert params.patch == (48, 48, 32) and params.filters == 8
    settings.baseModel = str(DEMO)
    assert train_parameters_from_settings(settings).patch == (48, 48, 32)      # the demo's own patch
    assert settings.method == "mean-teacher"                           # a preset without a method keeps it
    session.estimate(settings, "paper")
    params = train_parameters_from_settings(settings)
    assert params.patch == (48, 48, 32) and (params.method, params.recipe) == ("sgrs", "paper")
    assert params.args().count("--recipe") == 1                         # the preset's recipe, said once
