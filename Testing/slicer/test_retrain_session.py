"""Issue 28 through SGRSTrainLib on a real MRML scene: fine-tuning from the scene keeps the base model's
classes (each segment to its class, by terminology then name; the others left out), a case lacking a
class is refused unless marked absent, Train is disabled with a reason in the GUI's words, and the
preset shown first is what the defaults run (items 1 and 2)."""
import json
import time
from types import SimpleNamespace

import numpy as np
import pytest
import slicer
from class_fixtures import LIVER, THREE_CLASSES, split_label, three_class_bundle
from conftest import LAUNCHER, ROOT, add_scene_cases, load_node, sgrs_processes
from SGRSSegmentLib.compat import set_terminology
from SGRSSegmentLib.result_nodes import terminology_string
from SGRSTrainLib.classes import name_segments, segment_terminology
from SGRSTrainLib.cohort import collect_cases, export_cohort
from SGRSTrainLib.job import TrainParameters
from SGRSTrainLib.session import TrainSession, train_parameters_from_settings

from sgrs.data.image_io import read_image, read_label, write_image
from sgrs.models.classes import LEFT_ATRIUM, class_entries
from sgrs.models.meta import content_hash, read_meta
from sgrs.training.presets import DEFAULT, DEFAULT_PRESET, PRESETS
from sgrs.util.errors import InputError, SGRSError

DEMO = ROOT / "Resources" / "Demo" / "model"


@pytest.fixture(scope="module")
def segmentations_logic():
    return slicer.vtkSlicerSegmentationsModuleLogic()


def segment(case, index=0):
    return case.segmentation.GetSegmentation().GetNthSegment(index)


def add_box_segment(scene, logic, case, tmp_path, name):
    """A second, small segment (a box in a corner) in the case's segmentation."""
    from SGRSSegmentLib.volume_io import geometry_of
    volume = case.volume
    array = slicer.util.arrayFromVolume(volume)
    box = np.zeros(array.shape[::-1], np.uint8)
    box[1:4, 1:4, 1:3] = 1
    path = write_image(box, geometry_of(volume), tmp_path / f"{name}-{volume.GetName()}.nrrd")
    node = load_node(scene, path, name, "vtkMRMLLabelMapVolumeNode")
    seg = case.segmentation.GetSegmentation()
    before = seg.GetNumberOfSegments()
    assert logic.ImportLabelmapToSegmentationNode(node, case.segmentation)
    scene.RemoveNode(node)
    seg.GetNthSegment(before).SetName(name)
    return box


def poll_until_settled(session, timeout=300):
    end = time.time() + timeout
    while session.poll() in ("running", "cancelling") and time.time() < end:
        time.sleep(0.2)
    return session.state


def test_fine_tuning_the_demo_from_the_scene_keeps_left_atrium_and_leaves_other_segments_out(
        scene, segmentations_logic, tiny_cohort, tmp_path):
    segmentations_logic.SetMRMLScene(scene)
    add_scene_cases(scene, segmentations_logic, tiny_cohort, ("case000", "case001"), ("case002",))
    cases = collect_cases(scene)
    by_name = {c.volume.GetName(): c for c in cases}
    segment(by_name["case000"]).SetName("Left Atrium")                       # met by its name
    set_terminology(segment(by_name["case001"]), terminology_string(LEFT_ATRIUM))  # met by its code
    segment(by_name["case001"]).SetName("Segment_1")
    box = add_box_segment(scene, segmentations_logic, by_name["case001"], tmp_path, "tumour")
    session = TrainSession(scene, segmentations_logic, tmp_path / "jobs", registry=tmp_path / "registry",
                           python=LAUNCHER)
    session.collect()
    params = TrainParameters(base_model=str(DEMO), iterations=2, batch=4, patch=(48, 48, 32), filters=8,
                             method="supervised", device="cpu", extra_args=("--log-every", "1"))
    folder = session.start(params)
    manifest = json.loads((folder / "cohort" / "manifest.json").read_text())
    assert [c["name"] for c in manifest["classes"]] == ["background", "left atrium"]
    entry = next(c for c in manifest["cases"] if c["id"] == "case001")
    exported = read_label(folder / "cohort" / entry["label"], 2)
    original = read_label(tiny_cohort / "labels" / "case001.nrrd", 2)
    assert np.array_equal(exported, original), "the tumour box is left out, not merged into the atrium"
    assert box.any() and not original[box > 0].any()
    assert poll_until_settled(session) == "done", session.message
    assert session.deciding and session.registered is None   # fine-tuned: kept only when the user says so
    meta = read_meta(session.keep().path)
    atrium = meta["classes"][1]
    assert atrium["name"] == "left atrium" and atrium["terminology"]["type"][1] == "82471001"
    assert meta["postprocess"] == "lcc"
    assert meta["provenance"]["base_model_sha256"] == content_hash(read_meta(DEMO))
    assert not sgrs_processes(tmp_path / "jobs")
    # shown before training: what is left out (Train stays enabled: every case has its atrium)
    assert session.action(params).enabled, session.action(params).reason
    assert session.class_notes(params) == "Left out (no class of the base model): 'tumour' (case001)."
    session.collect(params)
    assert session.message == "2 labelled, 1 unlabelled cases. " + session.class_notes(params)


def three_class_scene(scene, logic, cohort, tmp_path, ids=("case000", "case001"), only_liver=("case001",)):
    """Cases whose segmentation holds 'liver' (lower half of the phantom) and 'spleen' (upper half; the
    cases in ``only_liver`` lack it), imported from label maps through the real segmentations logic and
    named from the classes as the Studio's Data panel names them."""
    for cid in ids:
        volume = load_node(scene, cohort / "images" / f"{cid}.nrrd", cid)
        image, geometry = read_image(cohort / "images" / f"{cid}.nrrd")
        label = split_label(read_label(cohort / "labels" / f"{cid}.nrrd", 2, geometry))
        if cid in only_liver:
            label[label == 2] = 0
        path = write_image(label, geometry, tmp_path / f"{cid}-organs.nrrd")
        node = load_node(scene, path, f"{cid} organs", "vtkMRMLLabelMapVolumeNode")
        seg = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"{cid} segmentation")
        seg.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        assert logic.ImportLabelmapToSegmentationNode(node, seg)
        scene.RemoveNode(node)
        name_segments(seg, [int(v) for v in np.unique(label) if v], class_entries(THREE_CLASSES))  # as the Studio
        assert segment_terminology(seg.GetSegmentation().GetNthSegment(0))["type"][1] == "10200004"
    load_node(scene, cohort / "images" / "case002.nrrd", "case002")


def test_a_three_class_base_exports_each_segment_to_its_own_label(scene, segmentations_logic, tiny_cohort,
                                                                 tmp_path):
    segmentations_logic.SetMRMLScene(scene)
    base = three_class_bundle(tmp_path / "organs")
    three_class_scene(scene, segmentations_logic, tiny_cohort, tmp_path, only_liver=())
    cases = collect_cases(scene)
    segment(next(c for c in cases if c.volume.GetName() == "case000"), 0).SetName("Leber")
    set_terminology(segment(next(c for c in cases if c.volume.GetName() == "case000"), 0),
                    terminology_string(LIVER))        # renamed, but coded as the base's liver
    manifest = export_cohort(scene, segmentations_logic, cases, tmp_path / "export", read_meta(base)["classes"])
    data = json.loads(manifest.read_text())
    for cid in ("case000", "case001"):
        entry = next(c for c in data["cases"] if c["id"] == cid)
        _, geometry = read_image(tiny_cohort / "images" / f"{cid}.nrrd")
        expected = split_label(read_label(tiny_cohort / "labels" / f"{cid}.nrrd", 2, geometry))
        assert np.array_equal(read_label(tmp_path / "export" / entry["label"], 3), expected), cid
    assert [c["name"] for c in data["classes"]] == ["background", "liver", "spleen"]


def test_a_case_lacking_a_class_disables_train_until_marked_absent(scene, segmentations_logic, tiny_cohort,
                                                                  tmp_path):
    segmentations_logic.SetMRMLScene(scene)
    base = three_class_bundle(tmp_path / "organs")
    three_class_scene(scene, segmentations_logic, tiny_cohort, tmp_path)
    session = TrainSession(scene, segmentations_logic, tmp_path / "jobs", registry=tmp_path / "registry")
    session.collect()
    params = TrainParameters(base_model=str(base), iterations=1, patch=(32, 32, 16), filters=2, device="cpu")
    action = session.action(params)
    assert not action.enabled and action.kind == "train"
    assert action.reason.startswith("'case001' has no segment for 'spleen' of the base model")
    with pytest.raises(SGRSError, match="no segment for 'spleen'"):
        session.start(params)
    assert not (tmp_path / "jobs").exists() or not any((tmp_path / "jobs").iterdir()), "no job folder was made"
    with pytest.raises(InputError, match="'case001' has no segment for 'spleen'"):
        export_cohort(scene, segmentations_logic, session.cases, tmp_path / "x", read_meta(base)["classes"])

    marked = TrainParameters(**{**params.__dict__, "absent": ("spleen",)})
    assert session.action(marked).enabled and "--absent-classes" in marked.args()
    manifest = export_cohort(scene, segmentations_logic, session.cases, tmp_path / "export",
                             read_meta(base)["classes"], absent=("spleen",))
    entries = {c["id"]: c for c in json.loads(manifest.read_text())["cases"]}
    assert entries["case001"]["absent"] == ["spleen"] and "absent" not in entries["case000"]


def test_train_is_disabled_with_the_supervised_alternative_when_nothing_is_unlabelled(
        scene, segmentations_logic, tiny_cohort, tmp_path):
    segmentations_logic.SetMRMLScene(scene)
    add_scene_cases(scene, segmentations_logic, tiny_cohort, ("case000",), ())
    session = TrainSession(scene, segmentations_logic, tmp_path / "jobs")
    params = TrainParameters(method="sgrs")
    assert session.action(params).reason == "Collect the scene's cases, or choose a cohort folder."
    session.collect()
    action = session.action(params)
    assert not action.enabled
    assert action.reason == ("1 labelled, 0 unlabelled: the 'sgrs' method also learns from unlabelled cases. "
                             "Load unlabelled scans, or choose the 'supervised' method.")
    assert "--" not in action.reason and "/" not in action.reason    # no flags, no paths
    session.collect(params)   # as SGRS Train's Collect: its status line says it too
    assert session.message == "1 labelled, 0 unlabelled cases. " + action.reason
    with pytest.raises(SGRSError, match="0 unlabelled"):
        session.start(params)
    assert not (tmp_path / "jobs").exists() or not any((tmp_path / "jobs").iterdir())
    assert session.action(TrainParameters(method="supervised")).enabled
    assert session.action(TrainParameters(method="sgrs", cohort=str(tiny_cohort))).enabled  # the engine decides
    assert session.action().enabled    # without parameters: as before


def test_the_preset_shown_first_is_what_the_defaults_run(tmp_path):
    """SGRS Train opens on the default preset without any signal; its parameter node and the Lib's
    parameters must already be that preset's (one source of truth)."""
    from test_binding_contract import parameter_fields

    fields = parameter_fields("SGRSTrain")
    assert fields["preset"][2] == DEFAULT_PRESET and PRESETS[DEFAULT_PRESET] is DEFAULT
    node = SimpleNamespace(cohortFolder="", baseModel="", **{k: fields[k][2] for k in (
        "iterations", "batch", "device", "preset", "method", "recipe", "teacher")})
    assert (node.iterations, node.batch, node.device) == (DEFAULT.iterations, DEFAULT.batch, DEFAULT.device)
    session = TrainSession(None, None, tmp_path / "jobs", registry=tmp_path / "registry")
    text = session.estimate(node, DEFAULT_PRESET)   # re-picking the shown preset changes nothing ...
    assert f"{DEFAULT.iterations} iterations" in text and "2-core CPU" in text   # ... and needs not to
    params = train_parameters_from_settings(node)
    assert (params.iterations, params.batch, params.patch, params.filters, params.device) == \
        (DEFAULT.iterations, DEFAULT.batch, DEFAULT.patch, DEFAULT.filters, DEFAULT.device)
    session.estimate(node, "standard (GPU)")    # picked: the GPU preset uses a GPU where there is one
    assert (node.iterations, node.device) == (PRESETS["standard (GPU)"].iterations, "auto")
    session.estimate(node, DEFAULT_PRESET)
    assert (node.iterations, node.device) == (DEFAULT.iterations, DEFAULT.device)
    lib = TrainParameters()
    assert (lib.iterations, lib.batch, lib.patch, lib.filters, lib.device) == \
        (DEFAULT.iterations, DEFAULT.batch, DEFAULT.patch, DEFAULT.filters, DEFAULT.device)


def test_picking_a_base_model_sets_the_presets_fine_tuning_and_a_loaded_node_keeps_its_method(tmp_path):
    """Issue 28 items 3-4: with a base model the quick preset fine-tunes as the retrain benchmark measured
    best (sgrs.training.presets.FineTuning: the method shown in the panel, the extra arguments launched);
    a parameter node seen for the first time (set-up, a loaded scene) keeps the method it stored."""
    def node(**values):
        return SimpleNamespace(**{"cohortFolder": "", "baseModel": "", "iterations": DEFAULT.iterations, "batch": 4,
                                  "device": "cpu", "preset": DEFAULT_PRESET, "method": "sgrs", "recipe": "default",
                                  "teacher": "recipe", **values})

    session = TrainSession(None, None, tmp_path / "jobs", registry=tmp_path / "registry")
    fresh = node()
    session.estimate(fresh, DEFAULT_PRESET)                  # set-up: from scratch, the engine's default method
    assert fresh.method == "sgrs" and "--freeze-encoder" not in train_parameters_from_settings(fresh).args()
    fresh.baseModel = str(DEMO)                              # the user picks the demo model ...
    session.estimate(fresh, DEFAULT_PRESET)
    args = [str(a) for a in train_parameters_from_settings(fresh).args()]
    assert fresh.method == "supervised" and args[args.index("--method") + 1] == "supervised"   # ... shown, run
    assert args[args.index("--freeze-encoder") + 1] == "150"
    fresh.method = "mix"                                     # the user's own choice afterwards stays
    session.estimate(fresh, DEFAULT_PRESET)
    assert fresh.method == "mix"

    loaded = node(baseModel=str(DEMO), method="mean-teacher")   # a scene saved with a base and a method
    session.estimate(loaded, DEFAULT_PRESET)
    assert loaded.method == "mean-teacher"
    session.estimate(loaded, "standard (GPU)")               # a picked preset without fine-tuning settings
    assert loaded.method == "mean-teacher"
    session.estimate(loaded, DEFAULT_PRESET)                 # picked again with the base: its fine-tuning method
    assert loaded.method == "supervised"


def test_a_new_annotation_segment_is_the_models_class(scene, segmentations_logic):
    """The Studio's new annotation gets the model's class (name, colour, code), so training meets it."""
    from SGRSTrainLib.classes import add_class_segment, plan_classes

    volume = load_node(scene, ROOT / "Resources" / "Demo" / "sample" / "image.nrrd", "sample")
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "sample annotation")
    node.CreateDefaultDisplayNodes()   # as the Studio's annotate panel makes it
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    classes = read_meta(DEMO)["classes"]
    segment_id = add_class_segment(node, classes)
    added = node.GetSegmentation().GetSegment(segment_id)
    assert added.GetName() == "left atrium"
    assert segment_terminology(added)["type"] == ["SCT", "82471001", "Left atrium"]
    assert segment_terminology(added)["context"] == "Segmentation category and type - DICOM master list"
    case = SimpleNamespace(volume=volume, segmentation=node, labelled=True)
    assert plan_classes([case], classes).values[volume.GetID()] == [(segment_id, 1)]
    assert add_class_segment(scene.AddNewNodeByClass("vtkMRMLSegmentationNode"), None)  # no model: foreground


def test_segments_are_coded_in_the_dicom_master_list():
    """Slicer's General Anatomy list lacks SCT 82471001: the demo's left atrium, and any class of a bundle
    written before contexts were recorded, is tagged in the DICOM master list."""
    entry = read_meta(DEMO)["classes"][1]["terminology"]
    master = "Segmentation category and type - DICOM master list~SCT^123037004^Anatomical Structure~"
    assert terminology_string(entry).startswith(master + "SCT^82471001^Left atrium~")
    old = {k: v for k, v in entry.items() if k != "context"}
    assert terminology_string(old).startswith(master)


def test_an_empty_segment_of_a_class_is_refused_before_the_job(scene, segmentations_logic, tiny_cohort, tmp_path):
    segmentations_logic.SetMRMLScene(scene)
    base = three_class_bundle(tmp_path / "organs")
    three_class_scene(scene, segmentations_logic, tiny_cohort, tmp_path)
    cases = collect_cases(scene)
    lacking = next(c for c in cases if c.volume.GetName() == "case001")
    lacking.segmentation.GetSegmentation().AddEmptySegment("", "spleen")   # named, never painted
    with pytest.raises(InputError, match="'case001': the segment of 'spleen' is empty"):
        export_cohort(scene, segmentations_logic, cases, tmp_path / "x", read_meta(base)["classes"])
