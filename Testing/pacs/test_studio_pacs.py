"""The Studio in a real browser against a real Orthanc: Open from PACS lists the studies and loads the
CT series; Send to PACS (enabled only for a PACS case with something to send, a reason shown otherwise)
stores what ``sgrs segment --push`` stores: the case's segmentation as a DICOM SEG that reads back voxel
for voxel, its descriptions led by the flag's word (``edited`` for a person's label), and the SR beside it."""
import asyncio
import io
import sys
import uuid

import dciodvfy
import numpy as np
import pytest
from conftest import ROOT
from pacs_fixtures import PASSWORD, REPORT_UID, SERIES_UID, STUDY_UID, USER, ct_series, orthanc  # noqa: F401 (fixtures)

sys.path.insert(0, str(ROOT / "Testing" / "studio"))
from harness import studio_in_browser, wait_for  # noqa: E402

from SGRSStudio.pacs_panel import NOT_FROM_PACS, NOTHING_YET  # noqa: E402
from sgrs.inference.flag_words import EDITED  # noqa: E402

from sgrs.data.credentials import PASSWORD as PASSWORD_VAR  # noqa: E402
from sgrs.data.credentials import USER as USER_VAR  # noqa: E402
from sgrs.data.image_io import read_image, write_image  # noqa: E402

pytest.importorskip("trame_slicer")


def make_studio(tmp_path):
    from trame.app import get_server

    from SGRSStudio.app import Studio

    server = get_server(f"studio-pacs-{uuid.uuid4().hex[:8]}", client_type="vue3")
    return Studio(tmp_path / "data", tmp_path / "models", tmp_path / "jobs", server=server, sample=None)


def stored_segs(orthanc, modality="SEG"):
    import pydicom

    s = orthanc.session()
    found = s.post(f"{orthanc.rest}/tools/find", json={"Level": "Instance", "Query": {"Modality": modality}},
                   timeout=30).json()
    return [pydicom.dcmread(io.BytesIO(s.get(f"{orthanc.rest}/instances/{i}/file", timeout=30).content))
            for i in found]


async def send_blocked(page, reason):
    """Wait until the button is disabled with ``reason`` shown under it (``None``: enabled, no reason)."""
    button, line = page.locator("#pacs-send"), page.locator("#pacs-send-blocked")
    for _ in range(100):
        disabled = await button.is_disabled()
        shown = (await line.inner_text()).strip() if await line.is_visible() else None
        if (disabled, shown) == (reason is not None, reason):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"Send to PACS: disabled={disabled}, reason shown {shown!r}; expected {reason!r}")


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
            write_image(image, geometry, tmp_path / "from-file.nrrd")
            studio.data.open_file(tmp_path / "from-file.nrrd", "from file")   # a case that never saw a PACS
            await page.click("#tab-save")
            await send_blocked(page, NOT_FROM_PACS)
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

            await page.click("#tab-save")
            await send_blocked(page, NOTHING_YET)
            path = write_image(box, geometry, studio.data_dir / "box.nrrd")
            studio.data.add_label(volume, path)  # the case's own segmentation, as an annotation would be
            await send_blocked(page, None)
            await page.click("#pacs-send")
            await wait_for(lambda: studio.state.pacs_sent or studio.state.message_type == "error", 120,
                           what="Send to PACS")
            assert studio.state.message_type == "success", studio.state.message
            assert PASSWORD not in studio.state.message + studio.state.pacs_sent

    asyncio.run(flow())
    (seg,) = stored_segs(orthanc)
    seg.save_as(tmp_path / "sent.seg.dcm")
    dciodvfy.assert_valid(tmp_path / "sent.seg.dcm")
    # a label a person made: no model result to flag, so the word says it was edited (as the CLI would lead
    # with the case flag's word)
    assert seg.SeriesDescription.startswith(f"SGRS [{EDITED}]"), seg.SeriesDescription
    assert seg.ContentDescription == f"SGRS-Net [{EDITED}]", seg.ContentDescription  # no Δ/Θ: none named
    (sr,) = [d for d in stored_segs(orthanc, "SR") if d.SeriesInstanceUID != REPORT_UID]  # the study's own: a report
    sr.save_as(tmp_path / "sent.sr.dcm")
    dciodvfy.assert_valid(tmp_path / "sent.sr.dcm")
    assert sr.StudyInstanceUID == STUDY_UID and sr.SeriesDescription.startswith(f"SGRS [{EDITED}]")
    evidence = {s.ReferencedSOPInstanceUID for study in sr.CurrentRequestedProcedureEvidenceSequence
                for series in study.ReferencedSeriesSequence for s in series.ReferencedSOPSequence}
    assert seg.SOPInstanceUID in evidence
    seg = hd.seg.Segmentation.from_dataset(seg)
    assert seg.StudyInstanceUID == STUDY_UID and seg.ReferencedSeriesSequence[0].SeriesInstanceUID == SERIES_UID
    import pydicom
    sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in ct_series.iterdir()]
    uids = [ds.SOPInstanceUID for ds in sorted(sources, key=lambda ds: float(ds.ImagePositionPatient[2]))]
    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, segment_numbers=[1],
                                               combine_segments=False)
    assert np.array_equal(pixels[..., 0].transpose(2, 1, 0), box)
