"""The Studio in a real browser against a real Orthanc: Open from PACS lists the studies and loads the
CT series; Send to PACS stores the case's segmentation as a DICOM SEG that reads back voxel for voxel."""
import asyncio
import io
import sys
import uuid

import dciodvfy
import numpy as np
import pytest
from conftest import ROOT
from pacs_fixtures import PASSWORD, SERIES_UID, STUDY_UID, USER, ct_series, orthanc  # noqa: F401 (fixtures)

sys.path.insert(0, str(ROOT / "Testing" / "studio"))
from harness import studio_in_browser, wait_for  # noqa: E402

from sgrs.data.credentials import PASSWORD as PASSWORD_VAR  # noqa: E402
from sgrs.data.credentials import USER as USER_VAR  # noqa: E402
from sgrs.data.image_io import read_image, write_image  # noqa: E402

pytest.importorskip("trame_slicer")


def make_studio(tmp_path):
    from trame.app import get_server

    from SGRSStudio.app import Studio

    server = get_server(f"studio-pacs-{uuid.uuid4().hex[:8]}", client_type="vue3")
    return Studio(tmp_path / "data", tmp_path / "models", tmp_path / "jobs", server=server, sample=None)


def stored_segs(orthanc):
    import pydicom

    s = orthanc.session()
    found = s.post(f"{orthanc.rest}/tools/find", json={"Level": "Instance", "Query": {"Modality": "SEG"}},
                   timeout=30).json()
    return [pydicom.dcmread(io.BytesIO(s.get(f"{orthanc.rest}/instances/{i}/file", timeout=30).content))
            for i in found]


def test_open_from_pacs_then_send_the_segmentation_back(orthanc, ct_series, tmp_path, monkeypatch):
    import highdicom as hd

    monkeypatch.setenv(USER_VAR, USER)
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    image, geometry = read_image(ct_series)
    box = np.zeros(geometry.size, np.uint8)
    box[200:260, 220:300, 5:12] = 1

    async def flow():
        studio = make_studio(tmp_path)
        # after the Studio: importing slicer first through volume_io would make slicer-core's namespace
        # scan of Testing/slicer import those tests in the middle of volume_io's own import
        from SGRSSegmentLib.volume_io import array_of, geometry_of

        async with studio_in_browser(studio) as page:
            await page.click("#tab-data")
            await page.fill("#pacs-url", orthanc.dicomweb)  # Vuetify puts the id on the <input>
            await page.click("#pacs-list")
            await wait_for(lambda: studio.state.pacs_studies, 30, what="the study list")
            assert [s["uid"] for s in studio.state.pacs_studies] == [STUDY_UID]
            await page.locator("#pacs-studies .v-list-item").first.click()
            await wait_for(lambda: studio.state.pacs_series, 30, what="the series list")
            assert [s["image"] for s in studio.state.pacs_series] == [True, False]  # the CT, then the report
            await page.locator("#pacs-series .v-list-item").first.click()
            await wait_for(lambda: studio.case is not None, 60, what="the series to load")
            volume = studio.case
            assert geometry_of(volume).mismatch(geometry) is None and np.array_equal(array_of(volume), image)
            assert volume.GetName() == "CT Body 3.0"

            path = write_image(box, geometry, studio.data_dir / "box.nrrd")
            studio.data.add_label(volume, path)  # the case's own segmentation, as an annotation would be
            await page.click("#tab-save")
            await page.click("#pacs-send")
            await wait_for(lambda: studio.state.pacs_sent or studio.state.message_type == "error", 120,
                           what="Send to PACS")
            assert studio.state.message_type == "success", studio.state.message
            assert PASSWORD not in studio.state.message + studio.state.pacs_sent

    asyncio.run(flow())
    (seg,) = stored_segs(orthanc)
    seg.save_as(tmp_path / "sent.seg.dcm")
    dciodvfy.assert_valid(tmp_path / "sent.seg.dcm")
    seg = hd.seg.Segmentation.from_dataset(seg)
    assert seg.StudyInstanceUID == STUDY_UID and seg.ReferencedSeriesSequence[0].SeriesInstanceUID == SERIES_UID
    import pydicom
    sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in ct_series.iterdir()]
    uids = [ds.SOPInstanceUID for ds in sorted(sources, key=lambda ds: float(ds.ImagePositionPatient[2]))]
    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, segment_numbers=[1],
                                               combine_segments=False)
    assert np.array_equal(pixels[..., 0].transpose(2, 1, 0), box)
