"""SGRSSegmentLib against a real MRML scene (slicer-core): volume node in, result nodes out."""
import numpy as np
import pytest
import slicer
import torch
import vtk
from conftest import OBLIQUE, load_node
from SGRSSegmentLib import SegmentParameters, SGRSSegmentLogic
from SGRSSegmentLib.volume_io import array_of, geometry_of

from sgrs.data.image_io import Geometry, read_image, write_image
from sgrs.data.phantom import make_case
from sgrs.inference.segment import DELTA, OMEGA, THETA, SegmentOptions, segment_array
from sgrs.models.bundle import load_bundle
from sgrs.util.errors import SGRSError


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    image, _, _ = make_case(0, 5, size=(45, 38, 21), spacing=(1.5, 1.4, 2.1))
    path = tmp_path_factory.mktemp("scan") / "scan.nrrd"
    write_image(image, Geometry((45, 38, 21), (1.5, 1.4, 2.1), (10.0, -20.0, 5.5), OBLIQUE), path)
    return path


def export_labelmap(scene, logic, segmentation, reference):
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
    ids = vtk.vtkStringArray()
    segmentation.GetSegmentation().GetSegmentIDs(ids)
    assert logic.segmentations_logic.ExportSegmentsToLabelmapNode(segmentation, ids, labelmap, reference)
    return array_of(labelmap)


def test_volume_node_geometry_and_array_match_the_engine_reader(scene, scan):
    node = load_node(scene, scan)
    image, geometry = read_image(scan)
    assert geometry_of(node).mismatch(geometry) is None
    assert np.array_equal(array_of(node), image)


def test_process_adds_named_coloured_nodes_equal_to_the_engine(scene, scan, tiny_bundle):
    node = load_node(scene, scan)
    sh = scene.GetSubjectHierarchyNode()
    study = sh.CreateStudyItem(sh.CreateSubjectItem(sh.GetSceneItemID(), "patient"), "study")
    sh.SetItemParent(sh.CreateItem(study, node), study)
    logic = SGRSSegmentLogic(scene)
    result = logic.process(SegmentParameters(volume=node, model=str(tiny_bundle), device="cpu"))

    image, geometry = read_image(scan)
    expected = segment_array(image, geometry, load_bundle(tiny_bundle), SegmentOptions(device="cpu"))
    seg = result.segmentation.GetSegmentation()
    assert seg.GetNumberOfSegments() == 1 and seg.GetNthSegment(0).GetName() == "left atrium"
    assert seg.GetNthSegment(0).GetColor() == pytest.approx((216 / 255, 101 / 255, 79 / 255), abs=1e-6)
    tag = seg.GetNthSegment(0).GetTerminology()
    assert "SCT^82471001^Left atrium" in tag
    assert seg.ContainsRepresentation("Closed surface")
    assert np.array_equal(export_labelmap(scene, logic, result.segmentation, node) > 0, expected.label > 0)

    assert np.array_equal(array_of(result.regions).astype(np.uint8), expected.regions)
    colors = result.regions.GetDisplayNode().GetColorNode()
    assert [colors.GetColorName(v) for v in (OMEGA, THETA, DELTA)] == \
        ["Ω consistent", "Θ inconsistent (fragile)", "Δ uncertain"]
    assert np.array_equal(array_of(result.entropy).astype(np.uint8), expected.entropy)
    for out in (result.regions, result.entropy):
        assert geometry_of(out).mismatch(geometry) is None
    assert result.table.GetNumberOfRows() == 3 and result.table.GetCellText(2, 0) == "uncertain (Δ)"
    for out in (result.segmentation, result.regions, result.entropy, result.table):
        assert sh.GetItemParent(sh.GetItemByDataNode(out)) == study


def test_bad_inputs_give_the_gui_message(scene, tiny_bundle, tmp_path):
    logic = SGRSSegmentLogic(scene)
    with pytest.raises(SGRSError, match="Select an input volume"):
        logic.process(SegmentParameters(volume=None, model=str(tiny_bundle)))
    flat = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "flat")
    slicer.util.updateVolumeFromArray(flat, np.zeros((1, 20, 20), np.float32))
    with pytest.raises(SGRSError, match="is 2D"):
        logic.process(SegmentParameters(volume=flat, model=str(tiny_bundle)))
    rgb = scene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", "rgb")
    slicer.util.updateVolumeFromArray(rgb, np.zeros((4, 20, 20, 3), np.float32))
    with pytest.raises(SGRSError, match="3 components"):
        logic.process(SegmentParameters(volume=rgb, model=str(tiny_bundle)))
    label = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "lab")
    with pytest.raises(SGRSError, match="not a scalar volume"):
        logic.process(SegmentParameters(volume=label, model=str(tiny_bundle)))
    ok = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "ok")
    slicer.util.updateVolumeFromArray(ok, np.zeros((16, 20, 20), np.float32))
    with pytest.raises(SGRSError, match="not a model bundle"):
        logic.process(SegmentParameters(volume=ok, model=str(tmp_path)))


def test_background_job_reports_progress_and_gives_the_same_nodes(scene, scan, tiny_bundle):
    import time

    from SGRSSegmentLib.job import SegmentJob
    node = load_node(scene, scan)
    params = SegmentParameters(volume=node, model=str(tiny_bundle), device="cpu")
    job = SegmentJob(SGRSSegmentLogic(scene), params).start()
    seen = set()
    while job.poll():
        seen.add(job.progress)
        time.sleep(0.05)
    result = job.result()
    assert job.progress[0] == job.progress[1] > 0
    image, geometry = read_image(scan)
    expected = segment_array(image, geometry, load_bundle(tiny_bundle), SegmentOptions(device="cpu"))
    assert np.array_equal(array_of(result.regions).astype(np.uint8), expected.regions)
    assert not job.work.exists(), "temporary files are removed"


def test_background_job_cancel_kills_the_process_and_error_is_reported(scene, scan, tiny_bundle, tmp_path):
    from SGRSSegmentLib.job import SegmentJob
    node = load_node(scene, scan)
    job = SegmentJob(SGRSSegmentLogic(scene), SegmentParameters(volume=node, model=str(tiny_bundle),
                                                                device="cpu")).start()
    job.cancel()
    assert not job.process.running and not job.work.exists()
    bad = SegmentJob(SGRSSegmentLogic(scene), SegmentParameters(volume=node, model=str(tmp_path), device="cpu")).start()
    with pytest.raises(SGRSError, match="not a model bundle"):
        bad.result()


def test_cuda_without_gpu_and_missing_pytorch_extension_are_explained(scene, scan, tiny_bundle):
    from SGRSSegmentLib.dependencies import (
        TORCH_REQUIREMENT,
        DependencyError,
        install,
        missing_packages,
    )
    node = load_node(scene, scan)
    if not torch.cuda.is_available():
        with pytest.raises(SGRSError, match="no CUDA GPU"):
            SGRSSegmentLogic(scene).process(SegmentParameters(volume=node, model=str(tiny_bundle), device="cuda"))
    assert missing_packages() == []  # everything the engine needs is importable here
    with pytest.raises(DependencyError, match="PyTorch extension is missing"):
        install([TORCH_REQUIREMENT])  # PyTorchUtils exists only inside Slicer with the extension
