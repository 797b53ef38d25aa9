"""The Studio's numbers (issue 25): the ranking reads exactly as ``sgrs rank`` prints it (the Studio showed
"3.8 %" where the command line printed 0.0273, and a scan flagged likely failed came last without a word),
and the Overlap slider shows its value."""
import asyncio
import subprocess
import sys

import pytest
from harness import ROOT, studio_in_browser, wait_for
from test_studio_browser import make_studio

from sgrs.inference.flag_words import FLAG_ACCURACY, flag_tooltip

pytest.importorskip("trame_slicer")
pytest.importorskip("playwright")

DEMO = ROOT / "Resources" / "Demo" / "model"


def noise_scan(path):
    """Pure noise: the demo model finds nothing like its structure in it, so the flag is likely failed."""
    import numpy as np

    from sgrs.data.image_io import Geometry, write_image

    a = np.random.default_rng(0).normal(0, 1, (40, 40, 24)).astype(np.float32)
    return write_image(a, Geometry(a.shape, (1.5, 1.5, 2.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1)), path)


def cli_rows(images) -> dict:
    """``sgrs rank``'s printed rows, by case: (rank, score, flag and note)."""
    done = subprocess.run([sys.executable, "-m", "sgrs", "rank", *map(str, images), "--model", str(DEMO),
                           "--device", "cpu"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = [line.split(maxsplit=3) for line in done.stdout.splitlines()[2:]]
    return {case: (rank, score, rest) for rank, case, score, rest in rows}


def test_the_ranking_reads_as_the_command_line_prints_it_and_the_overlap_shows_its_value(tmp_path, tiny_cohort):
    images = [tiny_cohort / "images" / "case000.nrrd", tiny_cohort / "images" / "case001.nrrd",
              noise_scan(tmp_path / "noise.nrrd")]

    async def flow():
        studio = make_studio(tmp_path, sample=None)
        for image in images:
            studio.data.open_file(image, image.name.split(".")[0], select=False)
        studio.data.refresh()
        studio.state.tr_device = "cpu"
        async with studio_in_browser(studio) as page:
            await page.click("#tab-segment")
            value = page.locator("#seg-overlap-value")
            assert (await value.inner_text()).strip() == f"{studio.state.seg_overlap:.2f}" == "0.50"
            await page.locator(".v-input:has(#seg-overlap) [role=slider]").focus()
            await page.keyboard.press("ArrowRight")   # one step of 0.05, as a user nudges it
            await page.locator("#seg-overlap-value", has_text="0.55").wait_for(timeout=10000)
            assert studio.state.seg_overlap == pytest.approx(0.55)

            await page.click("#tab-train")
            await page.click("#rank-run")
            await wait_for(lambda: len(studio.state.rank_results) == 3, 300, what="the ranking")
            cells = page.locator("#rank-results tbody tr")
            await cells.nth(2).wait_for(timeout=10000)
            shown = {}
            for i in range(3):
                row = cells.nth(i)
                text = [(await row.locator(f".rank-{k}").inner_text()).strip()
                        for k in ("rank", "name", "score", "flag", "note")]
                shown[text[1]] = text
                tips[text[1]] = await row.locator(".rank-flag").get_attribute("title")
            return shown

    tips = {}   # issue 26, item 7: the flag cell's tooltip, by case
    shown = asyncio.run(flow())
    printed = cli_rows(images)
    assert set(shown) == set(printed) == {"case000", "case001", "noise"}
    for case, (rank, _name, score, flag, note) in shown.items():
        cli_rank, cli_score, cli_rest = printed[case]
        assert (rank, score) == (cli_rank, cli_score), case   # the same digits, not "3.8 %"
        assert cli_rest == f"{flag:<13s}  {note}", case   # the flag column and the note too
        assert "%" not in score
    assert shown["noise"][0] == "–" and shown["noise"][3] == "likely failed"
    assert all((tips[case] or "") == flag_tooltip(shown[case][3]) for case in shown), tips
    assert tips["noise"].startswith("Case flag likely failed: nothing segmented")
    assert f"of {FLAG_ACCURACY['failed_cases']} failed" in tips["noise"]
    assert shown["noise"][4].startswith("not suggested: likely failed") and "check the scan and the model" in \
        shown["noise"][4]
    assert sorted(shown[c][0] for c in ("case000", "case001")) == ["1", "2"]
