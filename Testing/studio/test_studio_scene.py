"""The Studio's scene bookkeeping holds no reference to the nodes it lists: switching cases lists the
scene's volumes and segmentations each time, and vtkMRMLScene::GetNodesByClass hands its caller a
collection to release, which Python never does (it held every node it listed, for good)."""
import gc

import pytest
from test_studio_browser import SAMPLE, make_studio

from sgrs.data.image_io import read_image, write_image

pytest.importorskip("trame_slicer")


def test_switching_cases_leaves_no_reference_to_the_nodes(tmp_path):
    image, geometry = read_image(SAMPLE)
    write_image((image > image.mean()).astype("uint8"), geometry, tmp_path / "label.nrrd")
    studio = make_studio(tmp_path)
    sample = studio.case
    annotation = studio.data.add_label(sample, tmp_path / "label.nrrd")
    gc.collect()
    counts = [n.GetReferenceCount() for n in (sample, annotation)]
    for _ in range(5):
        studio.set_case(sample)   # the Data panel lists every volume and segmentation
    gc.collect()
    assert [n.GetReferenceCount() for n in (sample, annotation)] == counts
