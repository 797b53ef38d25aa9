"""Issue 28 item 2 in a real browser: a case never segmented is in one state, said the same way by the
Data and Annotate panels (no result, then being edited once its annotation is open); Mark reviewed and
Save refuse what is not there, and Save writes no file its message denies."""
import asyncio

import pytest
from harness import studio_in_browser, wait_for
from test_studio_browser import make_studio

pytest.importorskip("trame_slicer")
pytest.importorskip("playwright")


def chip(studio, name="sample"):
    return next(c["state"] for c in studio.state.data_cases if c["name"] == name)


def test_a_never_segmented_case_reads_the_same_everywhere_and_saves_nothing(tmp_path):
    async def flow():
        studio = make_studio(tmp_path)   # the sample case, not segmented
        async with studio_in_browser(studio) as page:
            await page.locator("#case-list .case-state", has_text="no result").wait_for(timeout=10000)
            await page.click("#tab-annotate")
            await page.click("#annotate-start")
            name = page.locator("#annotate-name")
            await name.wait_for(timeout=10000)
            assert "being edited" in await name.inner_text() and "guess" not in await name.inner_text()
            await wait_for(lambda: chip(studio) == "being edited", 10, what="the Data panel's state")

            await page.click("#annotate-reviewed")
            banner = page.locator("#studio-message")
            await page.locator("#studio-message", has_text="Nothing to mark reviewed").wait_for(timeout=10000)
            assert "training uses it" not in await banner.inner_text()
            assert chip(studio) == "being edited" and not studio.state.ann_is_label

            await page.click("#tab-save")
            await page.click("#save-run")
            await page.locator("#studio-message", has_text="Nothing to save for 'sample'").wait_for(timeout=10000)
            assert not list(studio.data_dir.rglob("sample_label*")), "no file the message denies"

    asyncio.run(flow())


def test_the_3d_surface_follows_a_paint_stroke_and_stays_after_switching_case(tmp_path):
    from harness import paint_stroke
    from test_studio_browser import SAMPLE
    from test_studio_first_use import select

    second = tmp_path / "second.nrrd"
    second.write_bytes(SAMPLE.read_bytes())

    def surface_cells(node):
        import vtk
        polys = vtk.vtkPolyData()
        seg = node.GetSegmentation()
        if not seg.ContainsRepresentation("Closed surface"):
            return 0
        node.GetClosedSurfaceRepresentation(seg.GetNthSegmentID(0), polys)
        return polys.GetNumberOfCells()

    async def flow():
        studio = make_studio(tmp_path)
        studio.data.open_file(second, "second", select=False)
        async with studio_in_browser(studio) as page:
            await page.click("#tab-annotate")
            await page.click("#annotate-start")
            await wait_for(lambda: studio.state.ann_active, 10, what="the segment editor")
            node = studio.annotate.node
            await paint_stroke(page)
            await wait_for(lambda: surface_cells(node) > 0, 20, what="the 3D surface of the stroke")
            await select(page, studio, "second")
            await select(page, studio, "sample")
            assert surface_cells(node) > 0 and node.GetDisplayNode().GetVisibility()
            assert node.GetDisplayNode().GetVisibility3D()

    asyncio.run(flow())
