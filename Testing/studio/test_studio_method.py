"""The Studio's method choice (issue 19, deliver item 2), in a real browser: the Train panel's method,
recipe and teacher selects show each choice's description, a preset that names a method sets it,
and the method picked in the list is the one the training job's config.json records."""
import asyncio
import json

import pytest
from harness import studio_in_browser, wait_for
from test_studio_browser import cohort_folder, fill_tiny_training, make_studio, open_cohort

from sgrs.method.names import DEFAULT_METHOD, METHOD_DESCRIPTIONS, TEACHER_DESCRIPTIONS

pytest.importorskip("trame_slicer")
pytest.importorskip("playwright")


async def pick(page, select_id, text):
    """Open a Vuetify select and click the list item named ``text`` (its description is under it)."""
    await page.locator(f".v-select:has(#{select_id})").click()
    item = page.locator(".v-overlay--active .v-list-item", has_text=text).first
    await item.wait_for(timeout=10000)
    await item.click()
    await page.locator(".v-overlay--active").wait_for(state="detached", timeout=10000)  # closed: the next can open


def test_the_method_picked_in_the_list_is_the_one_the_job_trains_with(tmp_path, tiny_cohort):
    async def flow():
        studio = make_studio(tmp_path, sample=None)
        cohort_folder(tiny_cohort, studio.data_dir)
        async with studio_in_browser(studio) as page:
            await open_cohort(page, studio)
            await page.click("#tab-train")
            assert studio.state.tr_method == DEFAULT_METHOD
            panel = page.locator("#panel-train")

            await pick(page, "train-preset", "paper")          # the published recipe: sgrs with the paper's
            await wait_for(lambda: (studio.state.tr_method, studio.state.tr_recipe) == ("sgrs", "paper"), 10,
                           what="the paper preset's method and recipe")
            await pick(page, "train-method", "mean-teacher")
            await wait_for(lambda: studio.state.tr_method == "mean-teacher", 10, what="the picked method")
            await panel.get_by_text(METHOD_DESCRIPTIONS["mean-teacher"]).wait_for(timeout=10000)  # its hint
            assert await page.locator("#train-recipe").is_disabled()   # the recipe is the sgrs method's
            await pick(page, "train-teacher", TEACHER_DESCRIPTIONS["reference"])  # found by its description
            await wait_for(lambda: studio.state.tr_teacher == "reference", 10, what="the picked teacher")

            await fill_tiny_training(page, studio, iterations=2, val_every=1000)
            await page.click("#train-run")
            await wait_for(lambda: studio.train.session.job is not None
                           and (studio.train.session.job.folder / "config.json").exists(), 120, what="the job's config")
            config = json.loads((studio.train.session.job.folder / "config.json").read_text())
            assert (config["method"], config["recipe"], config["teacher_noise"]) == ("mean-teacher", "default", True)
            await wait_for(lambda: studio.state.tr_state == "done", 240, what="the job to finish")
            assert studio.train.session.registered is not None

    asyncio.run(flow())
