"""SGRSSegmentLib.roi against a real MRML scene: a (rotated) markups ROI in RAS → engine LPS bounds,
and a segmentation restricted to it lands where the ROI is in the slice views."""
import numpy as np
import pytest
import vtk
from conftest import ROOT
from SGRSSegmentLib.roi import roi_bounds_lps
from SGRSSegmentLib.volume_io import array_of, geometry_of

from sgrs.data.image_io import Geometry, write_image
from sgrs.data.phantom import make_case
from sgrs.inference.segment import SegmentOptions, segment_array
from sgrs.models.bundle import load_bundle
from sgrs.util.errors import InputError


def add_roi(scene, center, size):
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "roi")
    roi.SetCenter(*center)
    roi.SetSize(*size)
    return roi


def test_axis_aligned_and_rotated_roi_give_lps_world_bounds(scene):
    roi = add_roi(scene, (10.0, 20.0, 30.0), (10.0, 20.0, 40.0))
    assert roi_bounds_lps(roi) == pytest.approx((-15.0, -30.0, 10.0, -5.0, -10.0, 50.0))
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    rotation = vtk.vtkTransform()
    rotation.RotateZ(45)
    transform.SetMatrixTransformToParent(rotation.GetMatrix())
    roi.SetAndObserveTransformNodeID(transform.GetID())
    # centre (10, 20) rotated 45° about S → (−7.07, 21.21) RAS; half-extents 5·cos45 + 10·sin45 = 10.61
    c, h = np.array([-7.0711, 21.2132]), 10.6066
    assert roi_bounds_lps(roi) == pytest.approx((-(c[0] + h), -(c[1] + h), 10.0, -(c[0] - h), -(c[1] - h), 50.0),
                                                abs=1e-3)
    empty = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "unplaced")
    with pytest.raises(InputError, match="'unplaced' is not placed yet"):
        roi_bounds_lps(empty)


def test_segmentation_in_a_slicer_roi_stays_inside_it(scene, tmp_path):
    image, _, _ = make_case(1, 77, size=(64, 64, 48), spacing=(1.25, 1.25, 1.25))
    ras_file = Geometry((64, 64, 48), (1.25, 1.25, 1.25), (40.0, 40.0, -30.0), (-1.0, 0, 0, 0, -1.0, 0, 0, 0, 1.0))
    write_image(image, ras_file, tmp_path / "scan.nrrd")
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(str(tmp_path / "scan.nrrd"))
    assert storage.ReadData(node)
    bounds = [0.0] * 6
    node.GetRASBounds(bounds)
    centre = [(bounds[2 * i] + bounds[2 * i + 1]) / 2 for i in range(3)]
    roi = add_roi(scene, centre, (60.0, 55.0, 45.0))
    seg = segment_array(array_of(node), geometry_of(node), load_bundle(ROOT / "Resources" / "Demo" / "model"),
                        SegmentOptions(device="cpu", regions=False, roi=roi_bounds_lps(roi)))
    assert seg.summary["scan"]["roi"]["size"] == [48, 44, 36]
    # every labelled voxel's RAS position lies inside the ROI as Slicer shows it
    ijk_to_ras = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(ijk_to_ras)
    m = np.array([[ijk_to_ras.GetElement(r, c) for c in range(4)] for r in range(4)])
    ijk = np.argwhere(seg.label > 0)
    assert len(ijk) > 100
    ras = (m[:3, :3] @ ijk.T).T + m[:3, 3]
    world = [0.0] * 6
    roi.GetRASBounds(world)
    lo, hi = np.array(world[0::2]), np.array(world[1::2])
    assert (ras >= lo - 1e-6).all() and (ras <= hi + 1e-6).all()


def test_a_bound_just_below_zero_reaches_the_engine_parser_intact(scene, tmp_path):
    """An ROI whose LPS xmin is −5e-05 mm: ``str`` writes it as ``-5e-05``, which argparse takes for an
    option flag; the command line SGRS Segment launches must parse back to the same six bounds."""
    from SGRSSegmentLib.job import SegmentJob
    from SGRSSegmentLib.logic import SGRSSegmentLogic
    from SGRSSegmentLib.parameters import SegmentParameters

    from sgrs.cli import build_parser
    from sgrs.util.background import BackgroundProcess
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    roi = add_roi(scene, (-10.0 + 5e-05, 0.0, 1e-07), (20.0, 10.0, 30.0))  # RAS xmax = 5e-05 → LPS xmin
    params = SegmentParameters(volume=volume, model=str(ROOT / "Resources" / "Demo" / "model"), roi=roi, tau=0.00001)
    job = SegmentJob(SGRSSegmentLogic(scene), params, work=tmp_path / "work")
    command = BackgroundProcess(job.arguments(), tmp_path / "work").args
    parsed = build_parser().parse_args(command[command.index("sgrs") + 1:])
    assert -1e-4 < parsed.roi[0] < 0 and "e-05" in str(parsed.roi[0])  # the case str() breaks
    assert parsed.roi == list(roi_bounds_lps(roi))  # every digit kept
    assert parsed.tau == 0.00001 and parsed.overlap == params.overlap
