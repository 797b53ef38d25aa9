"""What the modules leave in the user's scene, against a real MRML scene (issue 8, items 8, 9, 10,
12, 14, 15): the region opacity, the segmentations logic, the plot nodes, edited results as labels,
the Sample Data source, the progress file."""
import hashlib
import json
import re
import urllib.request
from types import SimpleNamespace

import numpy as np
import pytest
import slicer
import vtk
from conftest import ROOT
from SGRSSegmentLib.display import apply_region_settings, show_result
from SGRSSegmentLib.job import read_progress
from SGRSSegmentLib.labels import (
    GENERATED,
    counts_as_label,
    fingerprint,
    is_generated,
    mark_reviewed,
)
from SGRSSegmentLib.logic import SGRSSegmentLogic
from SGRSSegmentLib.parameters import SegmentParameters, SegmentResult
from SGRSSegmentLib.result_nodes import add_region_map
from SGRSSegmentLib.sample_data import DEMO_IMAGE, demo_sample_source
from SGRSSegmentLib.segmentations import module_segmentations_logic
from SGRSTrainLib.cohort import collect_cases
from SGRSTrainLib.job import JobStatus
from SGRSTrainLib.plot import TrainingPlot

from sgrs.data.image_io import Geometry
from sgrs.inference.segment import Segmentation


def volume(scene, name="scan", shape=(24, 20, 16)):
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    slicer.util.updateVolumeFromArray(node, np.random.default_rng(0).random(shape[::-1]).astype(np.float32))
    node.SetSpacing(1.5, 1.5, 2.0)
    node.SetOrigin(-10.0, 5.0, 3.0)
    return node


def test_region_opacity_is_the_slice_views_label_opacity(scene):
    composites = [scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode") for _ in range(3)]
    regions = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "scan SGRS regions")
    entropy = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan SGRS uncertainty")
    show_result(scene, SegmentResult(None, regions, entropy, None, {}), region_opacity=0.4)
    for node in composites:
        assert node.GetLabelVolumeID() == regions.GetID() and node.GetForegroundVolumeID() == entropy.GetID()
        assert node.GetLabelOpacity() == pytest.approx(0.4) and node.GetForegroundOpacity() == pytest.approx(0.3)
    own = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "the user's own label map")
    composites[2].SetLabelVolumeID(own.GetID())
    composites[2].SetLabelOpacity(1.0)
    settings = SimpleNamespace(regionOpacity=0.8, showDelta=True, showTheta=True, showOmega=False)
    assert not apply_region_settings(scene, None, settings)  # no result: nothing changes (issue 14, item 10)
    assert [n.GetLabelOpacity() for n in composites] == pytest.approx([0.4, 0.4, 1.0])
    result = SegmentResult(None, add_region_map(scene, volume(scene), np.ones((24, 20, 16), np.uint8), "r")[0],
                           entropy, None, {})
    show_result(scene, result, region_opacity=0.4)
    composites[2].SetLabelVolumeID(own.GetID())
    assert apply_region_settings(scene, result, settings)
    assert [n.GetLabelOpacity() for n in composites] == pytest.approx([0.8, 0.8, 0.4])  # the user's view kept


def rule_count():
    return len(slicer.vtkSegmentationConverterFactory.GetInstance().GetConverterRules())


def test_no_private_segmentations_logic_per_widget_or_run(scene):
    SGRSSegmentLogic(scene)
    before = rule_count()
    for _ in range(3):  # every widget setup / every run
        SGRSSegmentLogic(scene)
    assert rule_count() == before, "no new vtkSlicerSegmentationsModuleLogic, no re-registered converter rules"
    shared = slicer.vtkSlicerSegmentationsModuleLogic()
    assert SGRSSegmentLogic(scene, shared).segmentations_logic is shared


def status(points):
    return JobStatus("running", iteration=len(points), iterations=10, losses=points, dice=[(2, 0.5)])


def test_plot_nodes_are_found_again_kept_out_of_saved_scenes_and_remade_after_close(scene):
    counts = {}
    for _ in range(3):  # widget setup, module reload, setup again
        plot = TrainingPlot(scene)
        plot.update(status([(1, 0.9), (2, 0.7)]))
        counts = {c: scene.GetNumberOfNodesByClass(c) for c in
                  ("vtkMRMLPlotChartNode", "vtkMRMLPlotSeriesNode", "vtkMRMLTableNode", "vtkMRMLPlotViewNode")}
    assert counts == {"vtkMRMLPlotChartNode": 1, "vtkMRMLPlotSeriesNode": 2, "vtkMRMLTableNode": 2,
                      "vtkMRMLPlotViewNode": 1}
    assert plot.chart.GetNumberOfPlotSeriesNodes() == 2
    assert plot.view.GetPlotChartNodeID() == plot.chart.GetID()
    for node in (plot.chart, plot.view, *plot.tables.values(), *plot.series.values()):
        assert not node.GetSaveWithScene() and node.GetHideFromEditors()
    scene.Clear(0)  # Close Scene
    assert scene.GetNumberOfNodesByClass("vtkMRMLPlotChartNode") == 0
    plot.update(status([(1, 0.9), (2, 0.7), (3, 0.6)]))
    assert scene.GetNodeByID(plot.chart.GetID()) is plot.chart
    assert plot.tables["loss"].GetTable().GetNumberOfRows() == 3
    assert plot.view.GetPlotChartNodeID() == plot.chart.GetID()


def sgrs_result(scene, node):
    """An SGRSSegment result made by the real add_result_nodes (engine output stand-in: a box)."""
    label = np.zeros((24, 20, 16), np.uint8)
    label[6:14, 5:12, 4:10] = 1
    seg = Segmentation(label, None, np.zeros_like(label), Geometry((24, 20, 16), (1.5, 1.5, 2.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1)),
                       {"regions": {}})
    classes = [{"value": 0, "name": "background", "color": [0, 0, 0]},
               {"value": 1, "name": "left atrium", "color": [216, 101, 79]}]
    return SGRSSegmentLogic(scene).add_result_nodes(SegmentParameters(volume=node, model="m"), seg, classes)


def test_an_untouched_result_is_no_label_an_edited_or_reviewed_one_is(scene, tmp_path):
    scan, other = volume(scene, "scan"), volume(scene, "other")
    result = sgrs_result(scene, scan)
    seg = result.segmentation
    assert seg.GetAttribute(GENERATED) == fingerprint(seg)
    labelled = {c.volume.GetName(): c.labelled for c in collect_cases(scene)}
    assert labelled == {"scan": False, "other": False}, "the model's own guess is not a label"

    # the user paints a few voxels (the calls slicer.util.updateSegmentBinaryLabelmapFromArray makes)
    logic = module_segmentations_logic(scene)
    ids = vtk.vtkStringArray()
    ids.InsertNextValue(seg.GetSegmentation().GetNthSegmentID(0))
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
    assert logic.ExportSegmentsToLabelmapNode(seg, ids, labelmap, scan)
    voxels = slicer.util.arrayFromVolume(labelmap)
    voxels[2:4, 2:4, 2:4] = 1
    slicer.util.arrayFromVolumeModified(labelmap)
    assert logic.ImportLabelmapToSegmentationNode(labelmap, seg, ids)
    scene.RemoveNode(labelmap)
    cases = {c.volume.GetName(): c for c in collect_cases(scene)}
    assert cases["scan"].labelled and cases["scan"].segmentation is seg and not cases["other"].labelled

    # an untouched result the user explicitly accepts
    reviewed = sgrs_result(scene, other).segmentation
    assert not counts_as_label(reviewed)
    mark_reviewed(reviewed)
    assert counts_as_label(reviewed)
    assert {c.volume.GetName(): c.labelled for c in collect_cases(scene)} == {"scan": True, "other": True}


def test_the_fingerprint_survives_saving_and_reloading_the_segmentation(scene, tmp_path):
    scan = volume(scene)
    seg = sgrs_result(scene, scan).segmentation
    storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(str(tmp_path / "result.seg.nrrd"))
    assert storage.WriteData(seg)
    loaded = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "reloaded")
    reader = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    reader.SetFileName(str(tmp_path / "result.seg.nrrd"))
    assert reader.ReadData(loaded)
    assert fingerprint(loaded) == seg.GetAttribute(GENERATED)
    assert loaded.GetAttribute(GENERATED) is None, "read from the .seg.nrrd alone, without the scene"
    assert is_generated(loaded) and not counts_as_label(loaded), "the segment tags carry the fingerprint"


def test_a_segment_the_user_set_to_completed_counts_as_label(scene):
    seg = sgrs_result(scene, volume(scene)).segmentation
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    logic.SetSegmentStatus(seg.GetSegmentation().GetNthSegment(0), logic.InProgress)
    assert not counts_as_label(seg)
    logic.SetSegmentStatus(seg.GetSegmentation().GetNthSegment(0), logic.Completed)
    assert counts_as_label(seg)


def test_demo_sample_is_a_valid_sample_data_source(tmp_path):
    source = demo_sample_source()
    assert source["uris"].startswith("file:") and source["category"] == "SGRS"
    fetched = tmp_path / source["fileNames"]
    urllib.request.urlretrieve(source["uris"], fetched)  # what SampleData's downloadFile does
    algo, digest = source["checksums"].split(":")
    assert algo == "SHA256" and hashlib.sha256(fetched.read_bytes()).hexdigest() == digest
    assert fetched.read_bytes() == DEMO_IMAGE.read_bytes() and digest[:12] in source["fileNames"]


@pytest.mark.parametrize("module", ["SGRSSegment", "SGRSTrain"])
def test_module_follows_the_current_slicer_template(module):
    source = (ROOT / module / f"{module}.py").read_text()
    assert 'parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]' in source
    assert re.search(rf"@parameterNodeWrapper\nclass {module}ParameterNode:", source)
    # the template's wrapper, made once the stored values are repaired (test_stored_values.py)
    assert f"return repaired_node({module}ParameterNode, super().getParameterNode())" in source
    assert f"class {module}Widget(ParameterPanel, " in source and "| None" not in source  # 5.8: Python 3.9
    assert "rebind(" in (ROOT / "SGRSSegment" / "SGRSSegmentLib" / "panel.py").read_text()
    assert "connectParametersToGui(" in (ROOT / "SGRSSegment" / "SGRSSegmentLib" / "compat.py").read_text()
    assert (ROOT / "CMakeLists.txt").read_text().startswith(
        "cmake_minimum_required(VERSION 3.16.3...3.28.0 FATAL_ERROR)")
    if module == "SGRSSegment":
        assert 'slicer.app.connect("startupCompleted()", register_demo_sample)' in source


def test_progress_file_reader_waits_for_complete_lines(tmp_path):
    path = tmp_path / "progress.jsonl"
    path.write_text(json.dumps({"event": "progress", "done": 1, "total": 4}) + "\n" + '{"event": "fini')
    events, offset = read_progress(path)
    assert events == [{"event": "progress", "done": 1, "total": 4}]
    with open(path, "a") as f:
        f.write('shed", "summary": {}}\n')
    events, offset = read_progress(path, offset)
    assert events == [{"event": "finished", "summary": {}}] and offset == path.stat().st_size


class FactoryWithoutRuleList:
    """The real converter factory with ``GetConverterRules`` hidden: its std::vector return may not be
    wrapped by Slicer 5.8's VTK 9.2 snapshot."""

    def __init__(self, factory):
        self._factory = factory

    def __getattr__(self, name):
        if name == "GetConverterRules":
            raise AttributeError("GetConverterRules is not wrapped")
        return getattr(self._factory, name)


def test_the_surface_rule_is_registered_once_without_get_converter_rules():
    from SGRSSegmentLib.result_nodes import SURFACE_RULE, has_surface_rule, register_surface_rules
    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    hidden = FactoryWithoutRuleList(factory)
    for rule in [r for r in factory.GetConverterRules() if r.GetName() == SURFACE_RULE]:
        factory.UnregisterConverterRule(rule)  # a fresh process: nothing registered yet
    assert not has_surface_rule(hidden) and not has_surface_rule(factory)
    for _ in range(3):  # every segmentation result imported
        register_surface_rules(hidden)
    assert [r.GetName() for r in factory.GetConverterRules()].count(SURFACE_RULE) == 1
    assert has_surface_rule(hidden) and has_surface_rule(factory)
