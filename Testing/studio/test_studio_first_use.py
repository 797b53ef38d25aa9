"""SGRS Studio as a first-time user meets it (issue 18): messages that can be reopened, each case
keeping its own result, the model card and its out-of-world warning, download links, an empty
annotation that is no label, and a server killed and restarted that finds everything again."""
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    open_started_server,
    paint_stroke,
    start_server,
    studio_in_browser,
    wait_for,
)
from test_studio_browser import SAMPLE, click_segment_and_wait, make_studio

from sgrs.data.image_io import Geometry, write_image

pytest.importorskip("trame_slicer")
pytest.importorskip("playwright")

ROOT = Path(__file__).resolve().parents[2]


def ct_scan(path: Path) -> Path:
    """A small CT-like volume: air at −1000 HU around soft tissue and bone (not the demo model's world)."""
    a = np.full((64, 64, 24), -1000.0, np.float32)
    a[8:-8, 8:-8, :] = 40.0
    a[28:36, 28:36, :] = 700.0
    write_image(a, Geometry(a.shape, (0.8, 0.8, 3.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)), path)
    return path


async def select(page, studio, name):
    await page.click("#tab-data")
    await page.locator("#case-list .v-list-item", has_text=name).first.click()
    await wait_for(lambda: studio.case is not None and studio.case.GetName() == name, 10, what=f"case {name}")


def test_messages_cases_card_downloads_and_empty_annotation(tmp_path):
    second = tmp_path / "second.nrrd"
    second.write_bytes(SAMPLE.read_bytes())

    async def flow():
        studio = make_studio(tmp_path)
        studio.data.open_file(second, "second", select=False)
        studio.data.open_file(ct_scan(tmp_path / "ct.nrrd"), "abdomen CT", select=False)
        studio.data.refresh()
        async with studio_in_browser(studio) as page:
            console = []
            page.on("console", lambda message: console.append(message.text))
            # item 5: the model card where the model is chosen
            await page.click("#tab-model")
            card = await page.locator("#model-card").inner_text()
            assert "synthetic phantoms" in card and "MR or other" in card and "1.25 × 1.25 × 1.25 mm" in card

            # item 3 / 10: nothing to save for a case without a result, and no empty folder made
            await select(page, studio, "second")
            await page.click("#tab-save")
            await page.click("#save-run")
            banner = page.locator("#studio-message")
            await banner.wait_for(state="visible", timeout=10000)
            assert "Nothing to save for 'second'" in await banner.inner_text()
            assert not (studio.data_dir / "results").exists()
            # item 1: dismissed once, the next message still shows; the log keeps both
            await page.locator("#studio-message .v-alert__close button").click()
            await banner.wait_for(state="hidden", timeout=10000)
            assert not studio.state.message_open
            await page.click("#save-run")
            await banner.wait_for(state="visible", timeout=10000)
            await page.click("#message-log-open")
            await page.locator("#message-log").wait_for(state="visible", timeout=10000)
            assert await page.locator("#message-log .message-entry", has_text="Nothing to save").count() == 2

            # item 5: a CT is announced before the run, with the expected time
            await select(page, studio, "abdomen CT")
            # item 9: the 3D camera follows the case; views named, patient directions at their edges
            ct = studio.case
            bounds = [0.0] * 6
            ct.GetRASBounds(bounds)
            centre = np.array(bounds).reshape(3, 2).mean(axis=1)
            camera = studio.slicer.view_manager.get_threed_views()[0].first_renderer().GetActiveCamera()
            assert np.linalg.norm(np.array(camera.GetFocalPoint()) - centre) < 5.0
            labels = {v["title"]: v for v in studio.state.view_labels}
            assert (labels["Axial"]["left"], labels["Axial"]["right"], labels["Axial"]["top"]) == ("R", "L", "A")
            assert (labels["Coronal"]["left"], labels["Coronal"]["top"]) == ("R", "S")
            overlay = await page.locator(".view-label").all_inner_texts()
            assert any(t.startswith("Axial") for t in overlay) and any(t.startswith("Sagittal") for t in overlay)
            # item 9: window / level presets act on the case's display node
            studio.state.view_wl = "CT soft tissue"
            studio.state.flush()
            await wait_for(lambda: ct.GetDisplayNode().GetWindow() == 400.0, 10, what="the W/L preset")
            assert ct.GetDisplayNode().GetLevel() == 40.0 and not ct.GetDisplayNode().GetAutoWindowLevel()
            await page.click("#tab-segment")
            await page.click("#segment-run")
            await page.locator("#segment-world-warning").wait_for(state="visible", timeout=10000)
            warning = await page.locator("#segment-world-warning").inner_text()
            assert "looks like CT" in warning and "spacing 0.8 × 0.8 × 3" in warning
            # the warning box may show before the click reaches the server (the case's preview fills it
            # on selection), so wait for the run's own announcement
            await wait_for(lambda: "outside the model's world" in studio.state.message, 10, what="the announcement")
            assert studio.state.message_type == "warning", (studio.state.message_type, studio.state.message)
            assert "windows" in await page.locator("#segment-estimate").inner_text()
            await page.click("#segment-cancel")
            await wait_for(lambda: studio.state.seg_state == "cancelled", 30, what="cancel")

            # item 3: each case keeps its own result and status
            await select(page, studio, "sample")
            await click_segment_and_wait(page, studio)
            result = studio.result
            # issue 25: the finished run measured the time per window; the shown estimate says so at once
            await wait_for(lambda: "measured here" in studio.state.seg_preview, 10, what="the estimate, refreshed")
            # item 9: Ω (switched on) is painted inside the segmentation only, not over the whole image
            import slicer
            from SGRSSegmentLib.display import composite_nodes

            from sgrs.inference.maps import OMEGA
            studio.state.reg_omega = True
            studio.state.flush()
            shown = studio.regions.shown_regions
            await wait_for(lambda: all(c.GetLabelVolumeID() == shown.GetID()
                                       for c in composite_nodes(studio.scene)), 10, what="the shown region map")
            engine_omega = (slicer.util.arrayFromVolume(result.regions) == OMEGA).sum()
            shown_omega = (slicer.util.arrayFromVolume(shown) == OMEGA).sum()
            segmented_ml = result.summary["foreground_ml"]
            assert 0 < shown_omega < 0.5 * engine_omega
            assert shown_omega * 1.25 ** 3 / 1000 <= segmented_ml + 1e-6      # inside the segmentation
            studio.state.reg_omega = False
            studio.state.flush()
            done_status = studio.state.seg_status
            assert done_status.startswith("Done in")
            await select(page, studio, "second")
            assert studio.result is None and not studio.state.reg_available and studio.state.seg_status == ""
            await page.click("#tab-regions")
            await page.locator("#regions-empty").wait_for(state="visible", timeout=10000)
            # item 4: a case without a result starts an empty annotation, which is no label
            await page.click("#tab-annotate")
            await page.click("#annotate-start")
            await wait_for(lambda: studio.state.ann_active, 10, what="the editor")
            empty = studio.annotate.node
            await asyncio.sleep(0.5)
            assert not [m for m in console if "cannot be serialized" in m]   # item 10: the click returns nothing
            assert empty.GetName() == "second annotation" and not studio.state.ann_is_label
            assert not next(c["labelled"] for c in studio.state.data_cases if c["name"] == "second")

            await select(page, studio, "sample")
            assert studio.result is result and studio.scene.IsNodePresent(result.segmentation)
            assert studio.state.reg_available and studio.state.seg_status == done_status
            await page.click("#tab-regions")
            assert await page.locator("#region-stats tbody tr").count() == 3
            # the time per window was measured: the next estimate says so
            await page.click("#tab-segment")
            await wait_for(lambda: "measured here" in studio.state.seg_preview, 10, what="a measured estimate")

            # item 10: saved files download through the browser
            await page.click("#tab-save")
            await page.click("#save-run")
            await wait_for(lambda: len(studio.state.save_written) == 3, 30, what="the saved files")
            link = page.locator("#save-written .save-download").first
            url = await link.evaluate("a => a.href")   # where the browser goes when it is clicked
            assert await link.get_attribute("download") is not None
            response = await page.request.get(url)
            saved = studio.data_dir / studio.state.save_written[0]
            assert response.ok and await response.body() == saved.read_bytes()

    asyncio.run(flow())


def test_a_killed_server_restarts_with_results_and_annotations(tmp_path):
    """The server is killed (SIGKILL, nothing saved at exit) after a Segment and a paint stroke; the
    next start reopens the case, its result and the edited annotation, as MRML nodes and on screen."""
    from playwright.async_api import async_playwright

    data, models, port = tmp_path / "data", tmp_path / "models", free_port()
    workspace = data / "workspace"
    server = start_server(data, models, port, tmp_path / "server.log")

    async def first_session():
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            await open_started_server(page, port)
            await page.click("#tab-segment")
            await page.click("#segment-run")
            await page.locator("#segment-status", has_text="Done in").wait_for(timeout=180000)
            saved = workspace / "sample" / "segmentation.seg.nrrd"
            assert saved.exists()
            before = saved.stat().st_mtime_ns
            await page.click("#tab-annotate")
            await page.click("#annotate-start")
            await page.locator("#annotate-name").wait_for(timeout=10000)
            await paint_stroke(page)
            await page.locator("#annotate-name", has_text="reviewed (a label)").wait_for(timeout=30000)
            end = time.monotonic() + 30
            while saved.stat().st_mtime_ns == before and time.monotonic() < end:
                await asyncio.sleep(0.2)   # the edit reaches the data folder without any Save click
            assert saved.stat().st_mtime_ns != before
            await browser.close()

    try:
        asyncio.run(first_session())
    finally:
        os.killpg(server.pid, signal.SIGKILL)   # no clean shutdown: only what was written as it was made
        server.wait(30)
    index = json.loads((workspace / "cases.json").read_text())
    assert [c["name"] for c in index["cases"]] == ["sample"] and index["cases"][0]["annotation"] == "result"

    async def restarted():
        studio = make_studio(tmp_path, sample=SAMPLE)   # the same data folder: the next start
        from SGRSSegmentLib.labels import counts_as_label, is_generated

        volume = studio.case
        assert [c["name"] for c in studio.state.data_cases] == ["sample"] and volume.GetName() == "sample"
        result = studio.result
        assert result is not None and result.regions is not None and result.entropy is not None
        assert result.segmentation.GetNodeReference("referenceImageGeometryRef") is volume
        assert is_generated(result.segmentation) and counts_as_label(result.segmentation)   # the edit survived
        assert studio.cases.annotation(volume) is result.segmentation
        assert studio.state.seg_status.startswith("Done in")   # the case's last status comes back too
        assert next(c["labelled"] for c in studio.state.data_cases if c["name"] == "sample")
        async with studio_in_browser(studio) as page:
            await page.click("#tab-regions")
            assert await page.locator("#region-stats tbody tr").count() == 3
            assert "Reopened 1 case(s)" in await page.locator("#studio-message").inner_text()
            chip = page.locator("#case-list .v-chip")
            await page.click("#tab-data")
            assert (await chip.first.inner_text()).strip() == "reviewed (a label)"

    asyncio.run(restarted())


def test_the_server_runs_until_stopped_unless_idle_exit_is_asked(tmp_path):
    """Item 2: wslink's 5-minute idle reaper is off by default; --idle-exit MINUTES turns it on."""
    from SGRSStudio.cli import idle_timeout_s, parser

    assert idle_timeout_s(parser().parse_args([])) == 0
    assert idle_timeout_s(parser().parse_args(["--idle-exit", "10"])) == 600
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "SGRSStudio", "--no-sample", "--idle-exit", "0.02", "--port",
                          str(port), "--data", str(tmp_path / "data")], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "stops after 0.02 min with no browser connected" in run.stdout
    assert "stopped after 0.02 min without a browser" in run.stdout
