"""Listing the scene's nodes leaves no reference behind (issue 14, item 7): a node the user deletes is
freed. vtkMRMLScene::GetNodesByClass hands its caller a collection to release; from Python it leaked,
holding every node it listed (collect_cases on Collect, the training plot every poll second)."""
import gc

import slicer  # noqa: F401  first: importing slicer imports every module of every "slicer" folder on sys.path, Testing/slicer included

from SGRSSegmentLib.display import composite_nodes
from SGRSTrainLib.cohort import collect_cases
from SGRSTrainLib.job import JobStatus
from SGRSTrainLib.plot import TrainingPlot


def test_the_raw_call_leaks_so_the_test_can_see_a_leak(scene):
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    before = node.GetReferenceCount()
    for _ in scene.GetNodesByClass("vtkMRMLScalarVolumeNode"):
        pass
    gc.collect()
    assert node.GetReferenceCount() > before


def test_collect_plot_and_views_hold_no_reference(scene):
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "scan segmentation")
    view = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    plot = TrainingPlot(scene)
    counts = [n.GetReferenceCount() for n in (volume, segmentation, view, plot.chart, plot.view)]
    for _ in range(5):
        assert [c.volume for c in collect_cases(scene)] == [volume]
        plot.ensure()  # what every poll second does once a job is shown
        plot.update(JobStatus("running", losses=[(1, 0.5)]))
        assert composite_nodes(scene) == [view]
    gc.collect()
    assert [n.GetReferenceCount() for n in (volume, segmentation, view, plot.chart, plot.view)] == counts
