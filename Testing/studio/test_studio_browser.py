"""SGRS Studio in a real browser (Debian chromium driven by Playwright), with the app in this
process: every click is followed by assertions on the real MRML nodes and on the pixels the
browser shows."""
import asyncio
import uuid
from pathlib import Path

import numpy as np
import pytest
from harness import (
    overlay_counts,
    paint_stroke,
    studio_in_browser,
    view_pixels,
    wait_for,
    wait_for_pixels,
)

from sgrs.data.image_io import read_image

pytest.importorskip("trame_slicer")
pytest.importorskip("playwright")

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "Resources" / "Demo" / "sample" / "image.nrrd"
SCREENSHOT = ROOT / "Resources" / "Screenshots" / "studio.png"


def make_studio(tmp_path, jobs_dir=None, **kwargs):
    """Build inside the running event loop: the views' render schedulers bind to the loop they see."""
    from trame.app import get_server

    from SGRSStudio.app import Studio

    server = get_server(f"studio-test-{uuid.uuid4().hex[:8]}", client_type="vue3")
    return Studio(tmp_path / "data", tmp_path / "models", jobs_dir or tmp_path / "jobs", server=server, **kwargs)


def grid(node):
    """Voxel grid of a volume node: dimensions and the IJK→RAS matrix."""
    import vtk

    m = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(m)
    return node.GetImageData().GetDimensions(), np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)])


def segment_voxels(studio):
    editor = studio.annotate.editor
    return int(editor.get_segment_labelmap(editor.get_active_segment_id(), as_numpy_array=True).astype(bool).sum())


async def click_segment_and_wait(page, studio):
    await page.click("#tab-segment")
    await page.click("#segment-run")
    await wait_for(lambda: studio.state.seg_state in ("done", "failed", "cancelled"), 180, what="Segment")
    assert studio.state.seg_state == "done", studio.state.seg_status


def test_segment_inspect_annotate_save(tmp_path):
    async def flow():
        studio = make_studio(tmp_path)
        volume = studio.case
        assert volume is not None and volume.GetName() == "sample"          # opens with the sample loaded …
        assert Path(studio.state.model_path).name == "model"                 # … and the demo model selected
        async with studio_in_browser(studio) as page:
            before = overlay_counts(await view_pixels(page))
            assert before["segmentation"] == 0 and before["delta"] == 0

            # Cancel while the engine starts: nothing is added to the scene
            await page.click("#tab-segment")
            await page.click("#segment-run")
            await wait_for(lambda: studio.state.seg_running, 10, what="Segment to start")
            await page.click("#segment-cancel")
            await wait_for(lambda: studio.state.seg_state == "cancelled", 30, what="Cancel")
            assert not [n for n in studio.scene.GetNodesByClass("vtkMRMLSegmentationNode")
                        if n.GetName().endswith("SGRS segmentation")]

            await click_segment_and_wait(page, studio)
            result = studio.segment.session.result
            for node in (result.segmentation, result.regions, result.entropy):
                assert studio.scene.IsNodePresent(node)
            dims, ijk_to_ras = grid(volume)
            for node in (result.regions, result.entropy):
                node_dims, node_matrix = grid(node)
                assert node_dims == dims and np.allclose(node_matrix, ijk_to_ras)
            assert result.segmentation.GetNodeReference("referenceImageGeometryRef") is volume
            assert result.segmentation.GetSegmentation().GetNumberOfSegments() >= 1
            import slicer

            regions = slicer.util.arrayFromVolume(result.regions)
            assert set(np.unique(regions)) <= {0, 1, 2, 3} and (regions == 3).any()

            shown = await wait_for_pixels(page, lambda c: c["segmentation"] > 500 and c["delta"] > 50,
                                          what="the segmentation and Δ overlay")
            await page.click("#tab-regions")
            await page.wait_for_selector("#region-stats")
            assert await page.locator("#region-stats tbody tr").count() == 3     # Δ, Θ, Ω statistics
            await asyncio.sleep(0.5)   # let the table and the views settle for the README screenshot
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT))

            # Next / Previous uncertain region: every slice view centres on the engine's review list, in order
            from SGRSSegmentLib.review_navigation import lps_to_ras

            import vtk

            review = result.summary["review_regions"]
            assert review and studio.state.reg_review_count == len(review)
            saved = [(n, vtk.vtkMatrix4x4()) for n in studio.scene.GetNodesByClass("vtkMRMLSliceNode")]
            for node, matrix in saved:
                matrix.DeepCopy(node.GetSliceToRAS())
            assert studio.state.reg_case_flag == f"Case flag: {result.summary['case_flag']}" + (
                f" ({'; '.join(result.summary['case_flag_reasons'])})" if result.summary["case_flag_reasons"] else "")
            for clicks, (button, index) in enumerate((("next", 0), ("next", 1), ("previous", 0)), 1):
                await page.click(f"#region-{button}")
                await wait_for(lambda: studio.state.reg_review_position == f"{index + 1} of {len(review)}", 10,
                               what=f"click {clicks} on {button}")
                for node in studio.scene.GetNodesByClass("vtkMRMLSliceNode"):
                    m = node.GetSliceToRAS()
                    assert np.allclose([m.GetElement(r, 3) for r in range(3)], lps_to_ras(review[index]["centre_lps"]),
                                       atol=1e-3), node.GetName()
            assert review[0]["reason"] in studio.state.reg_review_detail
            for node, matrix in saved:  # back where the pixel checks below expect the views
                node.GetSliceToRAS().DeepCopy(matrix)
                node.UpdateMatrices()

            # Δ off: gone from every view (slices and 3D surface), the others stay
            await page.click("#region-delta")
            await wait_for(lambda: studio.state.reg_delta is False, 10, what="the Δ switch")
            from SGRSSegmentLib.region_display import region_visibility

            assert region_visibility(result.regions)["delta"] is False
            hidden = await wait_for_pixels(page, lambda c: c["delta"] < 0.05 * shown["delta"], what="Δ to disappear")
            assert hidden["segmentation"] > 0.5 * shown["segmentation"]
            await page.click("#region-delta")
            await wait_for_pixels(page, lambda c: c["delta"] > 0.5 * shown["delta"], what="Δ to come back")
            # entropy heat map: the foreground layer of every slice view (at the desktop's 0.3), switchable
            from SGRSSegmentLib.display import composite_nodes

            assert all(c.GetForegroundVolumeID() == result.entropy.GetID() and c.GetForegroundOpacity() == 0.3
                       for c in composite_nodes(studio.scene))
            await page.click("#region-heat")
            await wait_for(lambda: all(c.GetForegroundOpacity() == 0 for c in composite_nodes(studio.scene)), 10,
                           what="the heat map to go")

            # annotate: the model's segmentation in the segment editor; the untouched result is no label
            def labelled():
                return next(c["labelled"] for c in studio.state.data_cases if c["name"] == "sample")

            await page.click("#tab-annotate")
            await page.click("#annotate-start")
            await wait_for(lambda: studio.state.ann_active, 10, what="the segment editor")
            assert studio.annotate.node is result.segmentation
            start = segment_voxels(studio)
            assert start > 0 and not labelled() and not studio.state.ann_is_label
            await paint_stroke(page)
            await wait_for(lambda: segment_voxels(studio) > start, 15, what="the paint stroke")
            painted = segment_voxels(studio)
            # edited: now a label, by the rule SGRS Train uses (SGRSSegmentLib.labels)
            await wait_for(lambda: studio.state.ann_is_label and labelled(), 10, what="the edit to count")
            await page.click("#annotate-undo-redo button:has(.mdi-undo)")
            await wait_for(lambda: segment_voxels(studio) == start, 15, what="undo")
            await wait_for(lambda: not studio.state.ann_is_label and not labelled(), 10, what="undo to uncount")
            await page.click("#annotate-reviewed")   # accepted as it is: a label again
            await wait_for(labelled, 10, what="Mark reviewed")
            await page.click("#annotate-undo-redo button:has(.mdi-redo)")
            await wait_for(lambda: segment_voxels(studio) == painted, 15, what="redo")

            # save: label (the corrected segmentation), region and entropy maps, read back on the input's grid
            await page.click("#tab-save")
            await page.click("#save-run")
            await wait_for(lambda: len(studio.state.save_written) == 3, 30, what="the saved files")
            _, sample_geometry = read_image(SAMPLE)
            out = studio.data_dir / "results"
            for name in ("sample_label.nrrd", "sample_regions.nrrd", "sample_entropy.nrrd"):
                _, geometry = read_image(out / name)
                assert geometry.mismatch(sample_geometry) is None, name
            label, _ = read_image(out / "sample_label.nrrd")
            assert int((label > 0).sum()) == painted

    asyncio.run(flow())


def test_save_formats_nifti_and_seg_nrrd(tmp_path):
    """The Save panel's other formats, without a browser (same panel code path)."""
    studio = make_studio(tmp_path)
    from SGRSSegmentLib import SegmentParameters

    result = studio.segment.logic.process(SegmentParameters(volume=studio.case, model=studio.state.model_path,
                                                            device="cpu"))
    studio.cases.set_result(studio.case, result)
    studio.regions.show_result(result)
    nifti = studio.save.save("out", ".nii.gz")
    assert sorted(p.name for p in nifti) == ["sample_entropy.nii.gz", "sample_label.nii.gz",
                                            "sample_regions.nii.gz"]
    for p in nifti:
        assert read_image(p)[1].size == (64, 64, 48)
    seg = studio.save.save("out", ".seg.nrrd")
    assert sorted(p.name for p in seg) == ["sample_label.seg.nrrd", "sample_regions.seg.nrrd"]
    loaded = studio.slicer.io_manager.load_segmentation(str(seg[0]))
    assert loaded is not None and loaded.GetSegmentation().GetNumberOfSegments() >= 1


def test_model_import_and_refusals(tmp_path, tiny_bundle):
    """The Model panel registers a bundle from below --data and selects it; bad paths are refused."""
    import shutil

    studio = make_studio(tmp_path, sample=None)
    shutil.copytree(tiny_bundle, studio.data_dir / "incoming" / "tiny")
    path = studio.model.import_model("incoming/tiny")
    assert studio.state.model_path == str(path) and path.parent == tmp_path / "models"
    assert str(path) in [m["value"] for m in studio.state.models]
    studio.guard(studio.model.import_model, "../outside")
    assert studio.state.message_type == "error" and "outside the data folder" in studio.state.message
    (studio.data_dir / "evil.pth").write_bytes(b"not a state dict")
    studio.guard(studio.model.import_model, "evil.pth")
    assert studio.state.message_type == "error" and studio.state.model_path == str(path)


def test_open_folder_and_zipped_dicom_upload(tmp_path):
    """Data panel paths without a browser: a folder with one bad file, a zipped DICOM series, escapes."""
    import shutil
    import zipfile

    from test_uploads import dicom_series

    studio = make_studio(tmp_path, sample=None)
    scans = studio.data_dir / "scans"
    scans.mkdir()
    shutil.copy(SAMPLE, scans / "a.nrrd")
    (scans / "broken.nrrd").write_text("not an image")
    opened = studio.data.open_folder("scans")
    assert [n.GetName() for n in opened] == ["a"] and studio.state.message_type == "error"
    assert "skipped 1" in studio.state.message and "broken.nrrd" in studio.state.message

    array = np.arange(4 * 6 * 5, dtype=np.int16).reshape(4, 6, 5)
    archive = tmp_path / "ct.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in dicom_series(tmp_path / "series", array):
            zf.write(f, f.name)
    node = studio.data.upload_one("ct.zip", archive.read_bytes())
    import slicer

    assert node.GetName() == "ct" and np.array_equal(slicer.util.arrayFromVolume(node), array)
    assert studio.case is node and [c["name"] for c in studio.state.data_cases] == ["a", "ct"]
    studio.guard(studio.data.open_folder, "../..")
    assert "outside the data folder" in studio.state.message


def test_a_bad_upload_shows_an_error_and_nothing_is_lost(tmp_path):
    notes = tmp_path / "notes.nrrd"
    notes.write_text("these are my notes, not an image\n")
    second = tmp_path / "second.nrrd"
    second.write_bytes(SAMPLE.read_bytes())

    async def flow():
        studio = make_studio(tmp_path)
        async with studio_in_browser(studio) as page:
            await page.locator("#panel-data input[type=file]").set_input_files(str(notes))
            message = page.locator("#studio-message")
            await message.wait_for(state="visible", timeout=30000)
            await wait_for(lambda: studio.state.message_type == "error", 30, what="the error")
            assert "notes.nrrd" in await message.inner_text() and "cannot read image" in studio.state.message
            assert [c["name"] for c in studio.state.data_cases] == ["sample"]   # the sample is still there
            assert studio.case.GetName() == "sample"
            assert not list((studio.data_dir / "uploads").glob("notes*"))     # nothing half-accepted kept
            # … and the app keeps working: a good upload loads and becomes the case
            await page.locator("#panel-data input[type=file]").set_input_files(str(second))
            await wait_for(lambda: len(studio.state.data_cases) == 2, 30, what="the second upload")
            assert studio.case.GetName() == "second" and studio.state.message_type == "success"

    asyncio.run(flow())


def test_an_oversized_upload_is_refused_in_the_browser(tmp_path):
    big = tmp_path / "big.nrrd"
    big.write_bytes(SAMPLE.read_bytes() * 3)   # 2 MB

    async def flow():
        studio = make_studio(tmp_path, max_upload_mb=1)
        async with studio_in_browser(studio) as page:
            await page.locator("#panel-data input[type=file]").set_input_files(str(big))
            await wait_for(lambda: studio.state.message_type == "error", 30, what="the size error")
            assert "above the 1 MB limit" in studio.state.message
            assert not (studio.data_dir / "uploads").exists()                  # never reached the server
            assert [c["name"] for c in studio.state.data_cases] == ["sample"]

    asyncio.run(flow())


def cohort_folder(tiny_cohort, data_dir, labelled=("case000", "case001", "case004"),
                  unlabelled=("case002", "case003")) -> Path:
    """A folder below --data whose manifest gives labels to some cases only."""
    import json
    import shutil

    folder = data_dir / "cohort"
    shutil.copytree(tiny_cohort / "images", folder / "images")
    shutil.copytree(tiny_cohort / "labels", folder / "labels")
    cases = [{"id": c, "image": f"images/{c}.nrrd", **({"label": f"labels/{c}.nrrd"} if c in labelled else {})}
             for c in labelled + unlabelled]
    (folder / "manifest.json").write_text(json.dumps({"classes": ["background", "left atrium"], "cases": cases}))
    return folder


async def fill(page, selector, value):
    await page.fill(selector, str(value))   # Vuetify puts a text field's id on its <input>


async def open_cohort(page, studio):
    """Open ``cohort_folder``'s cohort in the Data panel, as a user types its folder name."""
    await fill(page, "#data-folder", "cohort")
    await page.click("#data-open-folder")
    await wait_for(lambda: len(studio.state.data_cases) == 5, 30, what="the cohort")


async def fill_tiny_training(page, studio, iterations, val_every):
    """A tiny CPU run in the Train panel's fields; waits until the run time is announced (issue 18,
    item 8: before Train is pressed)."""
    for selector, value in (("#train-iterations", iterations), ("#train-filters", 2), ("#train-batch", 4),
                            ("#train-patch", "32 32 16"), ("#train-val-every", val_every), ("#train-log-every", 1)):
        await fill(page, selector, value)
    studio.state.tr_device = "cpu"
    studio.state.flush()
    await page.locator("#train-estimate", has_text=f"({iterations} iterations").wait_for(timeout=10000)


def test_train_cancel_resume_then_segment_with_the_new_model(tmp_path, tiny_cohort):
    import json

    async def flow():
        studio = make_studio(tmp_path, sample=None)
        cohort_folder(tiny_cohort, studio.data_dir)
        async with studio_in_browser(studio) as page:
            await open_cohort(page, studio)
            assert sum(c["labelled"] for c in studio.state.data_cases) == 3

            await page.click("#tab-train")
            await wait_for(lambda: studio.state.tr_cohort == "3 labelled, 2 unlabelled", 10, what="the cohort line")
            # which unlabelled case to annotate next (demo model, in a worker thread)
            await page.click("#rank-run")
            await wait_for(lambda: len(studio.state.rank_results) == 2, 120, what="the ranking")
            assert {r["name"] for r in studio.state.rank_results} == {"case002", "case003"}
            await page.locator("#rank-results tbody tr").first.click()
            await wait_for(lambda: studio.case.GetName() == studio.state.rank_results[0]["name"], 10,
                           what="the top-ranked case to open")
            await fill_tiny_training(page, studio, iterations=400, val_every=2)
            await page.click("#train-run")
            await wait_for(lambda: studio.train.session.status is not None
                           and studio.train.session.status.iteration >= 3, 240, what="training progress")
            status_text = await page.locator("#train-status").inner_text()
            assert "Iteration" in status_text and "/400" in status_text
            assert studio.state.tr_progress > 0 and studio.state.tr_chart["loss"]

            await page.click("#train-cancel")
            await wait_for(lambda: studio.state.tr_state == "cancelled", 120, what="cancel")
            job = studio.train.session.job.folder
            stopped_at = studio.train.session.status.iteration
            assert stopped_at < 400 and studio.train.session.registered is None
            # finish soon after resuming: the run's length lives in the job folder's config
            config = json.loads((job / "config.json").read_text())
            config["iterations"] = stopped_at + 4
            (job / "config.json").write_text(json.dumps(config))
            # a Studio started later (a server restart) finds the cancelled job and offers Resume
            restarted = make_studio(tmp_path / "restart", sample=None, jobs_dir=studio.jobs_dir)
            assert restarted.state.tr_state == "cancelled" and restarted.state.tr_resumable
            assert restarted.train.session.job.folder == job

            await page.click("#train-resume")
            await wait_for(lambda: studio.state.tr_state == "done", 240, what="the resumed run to finish")
            # issue 25: the estimate now quotes the speed this run measured, no longer a guess
            await wait_for(lambda: "measured on this machine" in studio.state.tr_estimate, 10,
                           what="the estimate from the measured run")
            registered = studio.train.session.registered
            assert registered is not None and studio.state.model_path == str(registered.path)
            assert str(registered.path) in [m["value"] for m in studio.state.models]
            # issue 18, item 6: a recognisable name, the validation said, the bundle downloadable
            assert registered.name.startswith("case000-and-2-more-") and registered.name.endswith("-from-scratch")
            assert "Validation: Dice" in studio.state.message and "SGRS Segment" not in studio.state.message
            link = page.locator("#train-download")
            await link.wait_for(timeout=10000)
            response = await page.request.get(await link.evaluate("a => a.href"))
            assert response.ok and (await response.body())[:2] == b"PK"
            assert studio.train.session.status.iteration == stopped_at + 4
            # issue 18, item 10: the ended training process is reaped, not left a zombie of the server
            import psutil

            def zombies():
                return [c for c in psutil.Process().children(recursive=True) if c.status() == psutil.STATUS_ZOMBIE]
            await wait_for(lambda: not zombies(), 30, what="no zombie training process")

            # segment an unlabelled case with the new model
            case = next(c for c in studio.state.data_cases if c["name"] == "case002")
            studio.data.select_case(case["id"])
            await page.click("#tab-segment")
            assert registered.label() in await page.locator("#segment-model").inner_text()
            await click_segment_and_wait(page, studio)
            summary = studio.segment.session.result.summary
            assert Path(summary["model_path"]).resolve() == Path(registered.path).resolve()

    asyncio.run(flow())
