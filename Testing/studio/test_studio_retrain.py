"""Issue 28 in the Studio, in a real browser: Train is disabled with the session's reason when the cohort
cannot train (and enabled by the supervised alternative it names, or when the only labelled case is held out),
and fine-tuning the demo model from an opened cohort keeps the base's class, terminology and post-processing,
registered only when the user keeps it."""
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


async def hold_out(page, title):
    """Pick in "Check the new model on" (its field: the select's box also holds its two-line hint)."""
    await page.locator(".v-select:has(#train-hold-out) .v-field").click()
    item = page.locator(".v-overlay--active .v-list-item", has_text=title).first
    await item.wait_for(timeout=10000)
    await item.click()
    await page.locator(".v-overlay--active").wait_for(state="detached", timeout=10000)


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
            # with a base model the select is enabled, and its hint says there is no validation case
            await page.locator("#panel-train", has_text="hold a labelled case out to check").wait_for(timeout=10000)
            await hold_out(page, "case000")   # the only labelled case: nothing left to train on
            await page.locator("#train-blocked", has_text="Holding out 'case000' leaves no labelled case").wait_for(
                timeout=10000)
            await page.locator("#panel-train", has_text="label another one to train on").wait_for(timeout=10000)
            await hold_out(page, "none (check on the validation cases)")
            await wait_for(lambda: studio.state.tr_blocked == "", 10, what="no case held out")
            await fill(page, "#train-iterations", 2)
            studio.state.tr_device = "cpu"
            studio.state.flush()
            await page.locator("#train-run:not([disabled])").wait_for(timeout=10000)
            models_before = len(studio.state.models)
            await page.click("#train-run")
            await wait_for(lambda: studio.state.tr_state == "done", 240, what="the job to finish")
            config = json.loads((studio.train.session.job.folder / "config.json").read_text())
            assert config["freeze_encoder"] > 0     # the quick preset's fine-tuning settings (presets.FineTuning)
            # fine-tuned: not registered until kept; no held-out and no validation case, said plainly
            decision = page.locator("#train-decision-text")
            await decision.wait_for(timeout=10000)
            assert "No check case was available" in await decision.inner_text()
            assert studio.train.session.registered is None and len(studio.state.models) == models_before
            await page.locator("#train-blocked", has_text="A new model is waiting: keep it or roll back").wait_for(
                timeout=10000)   # a new run would take the waiting job's place
            assert await page.locator("#train-run[disabled]").count() == 1
            await page.click("#train-keep")
            await wait_for(lambda: studio.train.session.registered is not None, 30, what="the kept model")
            await wait_for(lambda: studio.state.tr_blocked == "", 10, what="Train offered again after Keep")
            assert studio.state.model_path == str(studio.train.session.registered.path)   # selected for Segment
            await page.locator("#train-decision").wait_for(state="detached", timeout=10000)
            meta = read_meta(studio.train.session.registered.path)
            assert meta["classes"][1]["name"] == "left atrium"
            assert meta["classes"][1]["terminology"]["type"][1] == "82471001" and meta["postprocess"] == "lcc"

    asyncio.run(flow())


def labelled_and_unlabelled(tiny_cohort, data_dir):
    folder = data_dir / "cohort"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    cases = []
    for cid, labelled in (("case000", True), ("case001", True), ("case002", False)):
        shutil.copy(tiny_cohort / "images" / f"{cid}.nrrd", folder / "images")
        entry = {"id": cid, "image": f"images/{cid}.nrrd"}
        if labelled:
            shutil.copy(tiny_cohort / "labels" / f"{cid}.nrrd", folder / "labels")
            entry["label"] = f"labels/{cid}.nrrd"
        cases.append(entry)
    (folder / "manifest.json").write_text(json.dumps({"classes": ["background", "left atrium"], "cases": cases}))


async def banner_says(page, words):
    banner = page.locator("#studio-message")
    await banner.wait_for(state="visible", timeout=10000)
    await page.locator("#studio-message", has_text=words).wait_for(timeout=10000)
    return await banner.inner_text()


def test_a_failed_and_a_cancelled_run_reach_the_banner_and_the_log(tmp_path, tiny_cohort):
    """The failure in the GUI's words (the file's name, not its folder), not resumable (a resume would meet the
    same damaged model); a cancelled run says so and offers Resume."""
    damaged = tmp_path / "damaged-model"
    shutil.copytree(DEMO, damaged)
    (damaged / "student.safetensors").write_bytes(b"not the weights model.json names")

    async def flow():
        studio = make_studio(tmp_path, sample=None)
        labelled_and_unlabelled(tiny_cohort, studio.data_dir)
        async with studio_in_browser(studio) as page:
            await fill(page, "#data-folder", "cohort")
            await page.click("#data-open-folder")
            await wait_for(lambda: len(studio.state.data_cases) == 3, 30, what="the cases")
            await page.click("#tab-train")
            await pick(page, "train-method", "supervised")
            studio.state.tr_base = str(damaged)
            studio.state.flush()
            await wait_for(lambda: studio.state.tr_patch == "48 48 32", 10, what="the base model's patch")
            await fill(page, "#train-iterations", 2)
            studio.state.tr_device = "cpu"
            studio.state.flush()
            await page.locator("#train-run:not([disabled])").wait_for(timeout=10000)
            await page.click("#train-run")
            await wait_for(lambda: studio.state.tr_state == "failed", 240, what="the job to fail")
            text = await banner_says(page, "checksum")
            assert "student.safetensors" in text and str(tmp_path) not in text and "--" not in text
            assert await page.locator("#train-resume").is_disabled()

            studio.state.tr_base = None
            studio.state.flush()
            await asyncio.sleep(0.5)   # the preset fills the fields first
            studio.state.update({"tr_patch": "32 32 16", "tr_filters": 2, "tr_iterations": 400, "tr_device": "cpu"})
            studio.state.flush()
            await page.locator("#train-run:not([disabled])").wait_for(timeout=10000)
            await page.click("#train-run")
            await wait_for(lambda: (studio.train.session.status is not None
                                    and (studio.train.session.status.iteration or 0) >= 1), 240, what="a step")
            await page.click("#train-cancel")
            await wait_for(lambda: studio.state.tr_state == "cancelled", 120, what="the cancel")
            await banner_says(page, "Cancelled")
            await page.locator("#train-resume:not([disabled])").wait_for(timeout=10000)
            await page.click("#message-log-open")
            await page.locator("#message-log").wait_for(state="visible", timeout=10000)
            assert await page.locator("#message-log .message-entry", has_text="checksum").count() == 1
            assert await page.locator("#message-log .message-entry", has_text="Cancelled").count() == 1

    asyncio.run(flow())
