"""The page itself (issue 18): the slice views' "show in 3D" toggle reads "3D" and shows its state,
a page load asks the server for nothing it cannot answer, and an upload shows how far it is."""
import asyncio
import re

import pytest
from harness import studio_in_browser, wait_for
from test_studio_browser import make_studio

pytest.importorskip("trame_slicer")
pytest.importorskip("playwright")


def test_the_show_in_3d_toggle_reads_3d_and_shows_its_state(tmp_path):
    """trame-slicer's toggle is the mdi-video-3d glyph, which reads "30" at that size (item 9)."""
    async def flow():
        studio = make_studio(tmp_path)
        async with studio_in_browser(studio) as page:
            assert await page.locator("#views .mdi-video-3d").count() == 0
            toggles = page.locator("#views .slice-in-3d")
            slices = {v.get_view_node().GetName(): v for v in studio.slicer.view_manager.get_slice_views()}
            assert await toggles.count() == len(slices) == 3
            for i in range(3):
                toggle = toggles.nth(i)
                assert (await toggle.inner_text()).strip() == "3D"
                # drawn in a text font, not an icon font (whose glyphs would turn the letters into a picture)
                font = await toggle.evaluate("b => getComputedStyle(b.querySelector('.v-btn__content')).fontFamily")
                assert "material" not in font.lower() and "mdi" not in font.lower(), font
                assert await toggle.get_attribute("aria-pressed") == "true"
            # a click hides that slice in 3D (the real slice node), and the button says so
            axial = page.locator(".slice-in-3d[data-view='Red']")
            red = next(v for v in slices.values() if v.get_view_node().GetSingletonTag() == "Red")
            await axial.click()
            await wait_for(lambda: not red.is_visible_in_3d(), 10, what="the slice to leave the 3D view")
            await page.locator(".slice-in-3d[data-view='Red'][aria-pressed='false']").wait_for(timeout=10000)
            await axial.click()
            await wait_for(red.is_visible_in_3d, 10, what="the slice to come back in 3D")
            await page.locator(".slice-in-3d[data-view='Red'][aria-pressed='true']").wait_for(timeout=10000)

    asyncio.run(flow())


def test_a_page_load_makes_no_request_the_server_refuses(tmp_path):
    """trame's client first POSTs to ``paraview/`` (a ParaViewWeb launcher's address) and, refused with
    405, falls back to the websocket: every page load logged a 405 (item 10). The Studio's page names
    its websocket itself, so nothing is asked that the server cannot answer."""
    import os
    import signal

    from harness import CHROMIUM, CHROMIUM_ARGS, free_port, open_started_server
    from playwright.async_api import async_playwright
    from test_studio_first_use import start_server

    port, log = free_port(), tmp_path / "server.log"
    server = start_server(tmp_path / "data", tmp_path / "models", port, log, "--no-sample")
    requests, refused, console = [], [], []

    async def load_twice():
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = await browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("response", lambda r: r.status >= 400 and refused.append(f"{r.status} {r.url}"))
            page.on("console", lambda m: console.append(m.text))
            await open_started_server(page, port)
            await page.reload()   # a second load, as a user's refresh
            await page.wait_for_selector("#tab-segment", timeout=120000)
            # connected: the server's state reaches the page (the case list's heading is drawn from it)
            assert await page.locator("#panel-data", has_text="Data folder").count() == 1
            assert "sessionURL" not in page.url   # the address bar stays as the user typed it
            await browser.close()

    try:
        asyncio.run(load_twice())
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(30)
    assert any(u.endswith("/index.html") for u in requests), requests
    assert not [u for u in requests if "paraview" in u], requests
    assert not refused and not [m for m in console if "405" in m], (refused, console)
    text = log.read_text(errors="replace")   # VTK's warnings print pointers: 405 only as a whole word
    assert not re.search(r"\b405\b|Method Not Allowed|/paraview", text), text[-2000:]


RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  const note = () => {
    const el = document.querySelector('#data-uploading');
    if (el && el.offsetParent !== null && el.innerText) window.progressSeen.push(el.innerText);
  };
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                     attributes: true});
}"""


def test_an_upload_shows_its_progress_in_percent(tmp_path):
    """Item 8: a 168 MB upload took 35 s behind a busy bar. The page now says how far it is (per cent of
    the bytes the server has received, the rate and the time left) while the bytes travel."""
    import numpy as np

    from sgrs.data.image_io import Geometry, write_image

    rng = np.random.default_rng(0)
    scan = rng.normal(100, 20, (160, 150, 96)).astype(np.float32)   # ~9 MB as NRRD, uncompressed
    path = write_image(scan, Geometry(scan.shape, (0.9, 0.9, 2.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1)),
                       tmp_path / "big scan.nrrd", compress=False)
    assert path.stat().st_size > 8 << 20

    async def flow():
        studio = make_studio(tmp_path)
        async with studio_in_browser(studio) as page:
            await page.evaluate(RECORD_PROGRESS)
            await page.locator("#panel-data input[type=file]").set_input_files(str(path))
            await wait_for(lambda: any(c["name"] == "big scan" for c in studio.state.data_cases), 120,
                           what="the uploaded case")
            seen = await page.evaluate("window.progressSeen")
            percents = [int(m.group(1)) for t in seen for m in [re.search(r"(\d+) %", t)] if m]
            middle = sorted({p for p in percents if 0 < p < 100})
            assert len(middle) >= 3, seen
            assert percents == sorted(percents), percents   # it only goes forward
            assert any("MB/s" in t and "left" in t for t in seen), seen
            node = studio.case
            assert node.GetName() == "big scan" and node.GetImageData().GetDimensions() == scan.shape
            import slicer

            assert np.array_equal(slicer.util.arrayFromVolume(node), scan.transpose(2, 1, 0))
            assert (studio.data_dir / "uploads" / path.name).read_bytes() == path.read_bytes()
            assert not list((studio.data_dir / "uploads").glob(".incoming/*"))   # no part left behind
            await page.locator("#data-uploading").wait_for(state="hidden", timeout=10000)
            assert studio.state.message_type == "success" and "big scan" in studio.state.message

    asyncio.run(flow())


def test_start_up_prints_no_window_resize_deprecation_warning(tmp_path, capsys):
    """Issue 25: VTK's "WindowResizeEvent will not be generated by vtkRenderWindowInteractor" warning was
    printed six times at every start (trame-slicer's slice views observe that event on their interactors:
    three views, each warning written twice). Now it is dropped at its source; other warnings still print."""
    import os
    import subprocess
    import sys

    from harness import ROOT, free_port

    from SGRSStudio.quiet_views import DEPRECATION, _warning

    run = subprocess.run([sys.executable, "-m", "SGRSStudio", "--no-sample", "--idle-exit", "0.01", "--port",
                          str(free_port()), "--data", str(tmp_path / "data"), "--models", str(tmp_path / "models")],
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0 and "SGRS Studio on http://127.0.0.1:" in output, output[-2000:]
    assert "WindowResizeEvent" not in output, output[-3000:]

    capsys.readouterr()
    _warning(None, "WarningEvent", f"Warning: In vtkObject.cxx, line 742\nx: {DEPRECATION} after VTK 9.6.\n")
    _warning(None, "WarningEvent", "Warning: In vtkFoo.cxx, line 1\nsomething else\n")
    assert capsys.readouterr().err == "Warning: In vtkFoo.cxx, line 1\nsomething else\n"   # only that one is dropped
