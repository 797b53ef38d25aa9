"""Issue 26, item 5, in the browser: a result the engine flags ``likely failed`` is announced in an
error banner (red, no check mark), the Regions panel says the flag in the error colour, and the trust
figures it quotes are the model's own, told they are its best case."""
import asyncio
from io import BytesIO

import numpy as np
import pytest
from harness import studio_in_browser, wait_for
from test_studio_browser import SAMPLE, click_segment_and_wait, make_studio

from sgrs.data.image_io import read_image, write_image
from sgrs.inference.flag_words import FLAG_ACCURACY, flag_tooltip

pytest.importorskip("trame_slicer")
pytest.importorskip("playwright")


async def mean_colour(locator) -> np.ndarray:
    from PIL import Image

    png = await locator.screenshot()
    return np.asarray(Image.open(BytesIO(png)).convert("RGB")).reshape(-1, 3).mean(axis=0)


def test_a_likely_failed_result_is_an_error_banner_not_a_success(tmp_path):
    image, geometry = read_image(SAMPLE)
    blank = tmp_path / "blank.nrrd"
    write_image(np.zeros_like(image), geometry, blank)   # the demo model finds nothing: "likely failed"

    async def flow():
        studio = make_studio(tmp_path)
        async with studio_in_browser(studio) as page:
            await page.locator("#panel-data input[type=file]").set_input_files(str(blank))
            await wait_for(lambda: studio.case is not None and studio.case.GetName() == "blank", 60,
                           what="the upload")
            await click_segment_and_wait(page, studio)
            summary = studio.result.summary
            assert summary["case_flag"] == "likely failed" and summary["case_flag_severity"] == "error"
            await wait_for(lambda: studio.state.message_type == "error", 10, what="the error banner")
            banner = page.locator("#studio-message")
            await banner.wait_for(state="visible", timeout=10000)
            await asyncio.sleep(0.3)   # the banner's transition
            text = await banner.inner_text()
            assert "Case flag: likely failed (nothing segmented)" in text
            assert await banner.locator(".mdi-check-circle").count() == 0            # no check mark …
            # the banner says what the flag means on hover, in the same words as the Regions panel's flag
            assert await page.locator("#studio-message-box").get_attribute("title") == flag_tooltip("likely failed")
            r, g, b = await mean_colour(banner)
            assert r > g + 60 and r > b + 30, (r, g, b)                              # … and red, not green
            status = page.locator("#segment-status")
            assert "text-error" in (await status.get_attribute("class"))

            await page.click("#tab-regions")
            flag = page.locator("#region-case-flag")
            await flag.wait_for(state="visible", timeout=10000)
            assert (await flag.inner_text()).strip() == "Case flag: likely failed (nothing segmented)"
            assert "text-error" in (await flag.get_attribute("class"))
            # issue 26, item 7: hovering it says what the flag means and how often it has been right
            tip = await page.locator("#region-case-flag-box").get_attribute("title")
            assert tip == flag_tooltip("likely failed") and tip.startswith("Case flag likely failed: nothing segmented")
            assert f"of {FLAG_ACCURACY['failed_cases']} failed results" in tip
            assert tip.endswith("not a clinical guarantee.")
            trust = await page.locator("#region-trust").inner_text()
            assert trust.startswith("This result is flagged") and "Measured for this model" in trust

    asyncio.run(flow())
