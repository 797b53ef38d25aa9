"""Issue 28 in the Studio, in a real browser: Train is disabled with the session's reason when the cohort
cannot train (and enabled by the supervised alternative it names), and fine-tuning the demo model from
an opened cohort keeps the base's class, terminology and post-processing."""
import asyncio
import json
import shutil

import pytest
from conftest import ROOT
from harness import studio_in_browser, wait_for
from test_studio_browser import fill, make_studio
from test_studio_method import pick

from sgrs.models.meta import read_meta

pytest.importorskip("trame_slicer")
pytest.importorskip("playwright")
DEMO = ROOT / "Resources" / "Demo" / "model"


def one_labelled_case(tiny_cohort, data_dir):
    folder = data_dir / "cohort"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    shutil.copy(tiny_cohort / "images" / "case000.nrrd", folder / "images")
    shutil.copy(tiny_cohort / "labels" / "case000.nrrd", folder / "labels")
    (folder / "manifest.json").write_text(json.dumps({
        "classes": ["background", "left atrium"],
        "cases": [{"id": "case000", "image": "images/case000.nrrd", "label": "labels/case000.nrrd"}]}))


def test_train_says_why_it_is_disabled_and_fine_tuning_keeps_the_demo_models_class(tmp_path, tiny_cohort):
    async def flow():
        studio = make_studio(tmp_path, sample=None)
        one_labelled_case(tiny_cohort, studio.data_dir)
        async with studio_in_browser(studio) as page:
            await fill(page, "#data-folder", "cohort")
            await page.click("#data-open-folder")
            await wait_for(lambda: len(studio.state.data_cases) == 1, 30, what="the case")
            await page.click("#tab-train")
            await wait_for(lambda: studio.state.tr_cohort == "1 labelled, 0 unlabelled", 10, what="the cohort")
            blocked = page.locator("#train-blocked")
            await blocked.wait_for(timeout=10000)
            text = await blocked.inner_text()
            assert text.startswith("1 labelled, 0 unlabelled: the 'sgrs' method") and "'supervised'" in text
            assert "--" not in text and str(tmp_path) not in text
            assert await page.locator("#train-run").is_disabled()

            await pick(page, "train-method", "supervised")
            await wait_for(lambda: studio.state.tr_blocked == "", 10, what="the supervised alternative")
            studio.state.tr_base = str(DEMO)    # the base model list's demo entry
            studio.state.flush()
            await wait_for(lambda: studio.state.tr_patch == "48 48 32", 10, what="the base model's patch")
            assert studio.state.tr_blocked == "" and studio.state.tr_class_notes == ""
            await fill(page, "#train-iterations", 2)
            studio.state.tr_device = "cpu"
            studio.state.flush()
            await page.locator("#train-run:not([disabled])").wait_for(timeout=10000)
            await page.click("#train-run")
            await wait_for(lambda: studio.state.tr_state == "done", 240, what="the job to finish")
            meta = read_meta(studio.train.session.registered.path)
            assert meta["classes"][1]["name"] == "left atrium"
            assert meta["classes"][1]["terminology"]["type"][1] == "82471001" and meta["postprocess"] == "lcc"

    asyncio.run(flow())
