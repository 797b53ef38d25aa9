"""Choosing a model in the panels (issue 14, items 5 and 8): refilling the list keeps the user's choice,
and τ / Δ rule are the model's own unless the user changes them."""
import json
import os
import shutil
from types import SimpleNamespace

import pytest
from conftest import ROOT
from SGRSSegmentLib.job import SegmentJob
from SGRSSegmentLib.models import refill
from SGRSSegmentLib.parameters import follow_model, parameters_from_settings
from test_binding_contract import parameter_fields

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6 import QtWidgets  # noqa: E402

DEMO = str(ROOT / "Resources" / "Demo" / "model")


def panel_settings(module: str, **values):
    """The module's parameter node as a plain object: every field with the class's own default."""
    fields = {name: default for name, (_base, _notes, default) in parameter_fields(module).items()}
    return SimpleNamespace(**{**fields, **values})


@pytest.fixture(scope="module")
def combo():
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    box = QtWidgets.QComboBox()
    yield box
    box.deleteLater()
    app.processEvents()


def test_an_unblocked_refill_emits_for_the_first_item(combo):
    """Why refill blocks signals: Qt's own clear() + addItem() select item 0 and say so."""
    seen = []
    combo.currentIndexChanged.connect(seen.append)
    try:
        combo.clear()
        combo.addItem("demo", "/demo")
        combo.addItem("mine", "/mine")
    finally:
        combo.currentIndexChanged.disconnect(seen.append)
    assert seen[-1] == 0


def test_refill_keeps_the_choice_and_says_nothing(combo):
    seen = []
    combo.currentIndexChanged.connect(seen.append)
    try:
        chosen = refill(combo, [("demo", "/demo"), ("mine", "/mine")], "/mine")
        assert (chosen, combo.currentIndex(), combo.currentData(), seen) == ("/mine", 1, "/mine", [])
        chosen = refill(combo, [("demo", "/demo")], "/mine")  # the saved model is gone: the first, reported
        assert (chosen, combo.currentIndex(), seen) == ("/demo", 0, [])
        chosen = refill(combo, [("demo", "/demo")], "", first=("(new model)", ""))  # Train: new model kept
        assert (chosen, combo.count(), combo.currentIndex(), seen) == ("", 2, 0, [])
        assert refill(combo, [], "/x") == "" and combo.count() == 0
    finally:
        combo.currentIndexChanged.disconnect(seen.append)
    assert not combo.signalsBlocked()


@pytest.fixture()
def strict_model(tmp_path):
    """A copy of the demo model trained, by its model.json, with τ 0.35 and the intersection rule."""
    folder = tmp_path / "strict"
    shutil.copytree(DEMO, folder)
    meta = json.loads((folder / "model.json").read_text())
    meta.update(tau=0.35, delta_rule="intersection")
    (folder / "model.json").write_text(json.dumps(meta))
    return str(folder)


def engine_arguments(settings, scene_volume):
    params = parameters_from_settings(settings)
    params.volume = scene_volume
    return [str(a) for a in SegmentJob(None, params, work="unused").arguments()]


def test_tau_and_delta_rule_follow_the_model_until_the_user_changes_them(strict_model, scene):
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
    settings = panel_settings("SGRSSegment")
    follow_model(settings, DEMO)
    assert (settings.tau, settings.deltaRule) == (pytest.approx(0.296), "union")
    args = engine_arguments(settings, volume)
    assert "--tau" not in args and "--delta-rule" not in args  # the engine reads the bundle's own

    follow_model(settings, strict_model)  # the field shows the new model's values
    assert (settings.model, settings.tau, settings.deltaRule) == (strict_model, pytest.approx(0.35), "intersection")
    args = engine_arguments(settings, volume)
    assert "--tau" not in args and "--delta-rule" not in args

    settings.tau = 0.4  # the user's own τ: passed, and kept across a model change
    follow_model(settings, DEMO)
    assert (settings.tau, settings.deltaRule) == (pytest.approx(0.4), "union")
    args = engine_arguments(settings, volume)
    assert args[args.index("--tau") + 1] == "0.4" and "--delta-rule" not in args

    settings.deltaRule = "intersection"
    args = engine_arguments(settings, volume)
    assert args[args.index("--delta-rule") + 1] == "intersection"


def test_an_unreadable_model_passes_the_fields_as_they_are(tmp_path, scene):
    settings = panel_settings("SGRSSegment", tau=0.3, deltaRule="intersection")
    follow_model(settings, str(tmp_path / "gone"))
    args = engine_arguments(settings, scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan"))
    assert args[args.index("--tau") + 1] == "0.3" and args[args.index("--delta-rule") + 1] == "intersection"


def test_the_list_follows_the_parameter_node_and_the_registry(combo, strict_model, tmp_path):
    """Review findings 2 and 3: Close Scene resets the node ("" model), a loaded scene brings its own model,
    a model trained or imported in the other panel is registered meanwhile; the list shows all of them."""
    from SGRSSegmentLib.models import import_model, show_model
    registry = tmp_path / "registry"
    seen = []
    combo.currentIndexChanged.connect(seen.append)
    try:
        segment = panel_settings("SGRSSegment")
        assert show_model(combo, segment, registry=registry, refresh=True) == DEMO == segment.model
        segment.model = ""  # Close Scene: the singleton parameter node back to its defaults
        assert show_model(combo, segment, registry=registry) == DEMO == segment.model == combo.currentData()
        trained = str(import_model(strict_model, registry))  # SGRS Train registers its model
        assert show_model(combo, segment, registry=registry, refresh=True) == DEMO  # listed, choice kept
        assert combo.count() == 2 and combo.currentData() == DEMO
        segment.model = trained  # a loaded scene's saved choice
        assert show_model(combo, segment, registry=registry) == trained == combo.currentData()
        assert (segment.tau, segment.deltaRule) == (pytest.approx(0.296), "union")  # the node's own, kept

        train = panel_settings("SGRSTrain", baseModel=trained)
        new = ("(new model)", "")
        assert show_model(combo, train, "baseModel", new, registry, refresh=True) == trained == combo.currentData()
        train.baseModel = ""  # Close Scene: training starts from scratch, and the list says so
        assert show_model(combo, train, "baseModel", new, registry) == "" == combo.currentData()
        assert combo.currentText() == "(new model)"
    finally:
        combo.currentIndexChanged.disconnect(seen.append)
    assert seen == [] and not combo.signalsBlocked()
