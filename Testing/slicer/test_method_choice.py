"""SGRS Train's method, recipe and teacher choice (issue 19, deliver item 2: "selectable in the GUIs'
method choice"): the .ui binds three combo boxes Slicer's connectors accept, each item carries its
description as a tooltip after every bind, and the choice reaches the ``sgrs train`` command line
the session launches (a real engine process on a real MRML scene), and through it the job's config."""
import json
import time
from types import SimpleNamespace

import pytest
import slicer
from conftest import LAUNCHER, add_scene_cases
from SGRSSegmentLib import compat
from SGRSSegmentLib.choices import TOOLTIP_ROLE, choice_tips
from SGRSSegmentLib.panel import ParameterPanel
from SGRSTrainLib.session import TrainSession, train_parameters_from_settings
from slicer.util import VTKObservationMixin
from test_binding_contract import Choice, bound_widgets, connector_error, parameter_fields

from sgrs.method import names

CHOICES = {"method": (names.METHODS, names.DEFAULT_METHOD, names.METHOD_DESCRIPTIONS),
           "recipe": (names.RECIPES, names.DEFAULT_RECIPE, names.RECIPE_DESCRIPTIONS),
           "teacher": (names.TEACHERS, names.DEFAULT_TEACHER, names.TEACHER_DESCRIPTIONS)}


def test_train_binds_a_method_recipe_and_teacher_combo_slicer_accepts():
    fields, widgets = parameter_fields("SGRSTrain"), bound_widgets("SGRSTrain")
    for name, (choices, default, _descriptions) in CHOICES.items():
        widget_class, _widget_name = widgets[name]
        base, notes, field_default = fields[name]
        assert widget_class == "QComboBox" and base is str and field_default == default
        assert [n.choices for n in notes if isinstance(n, Choice)] == [tuple(choices)]
        assert connector_error(widget_class, base, notes) is None


def test_the_tooltips_say_what_the_engine_says():
    """The tooltips are written out for lupdate; they must stay the engine's descriptions."""
    assert choice_tips() == {name: descriptions for name, (_c, _d, descriptions) in CHOICES.items()}


class ConnectingWrapper:
    """A parameter node wrapper whose connectors fill the bound combo boxes as Slicer's do
    (QComboBoxToStringableConnector.__init__: clear(), then addItem(str(c)) per choice)."""

    def __init__(self, node):
        self.node, self.connected, self.next = node, {}, 0

    def AddObserver(self, event, method, priority=0.0):
        return self.node.AddObserver(event, method, priority)

    def RemoveObserver(self, tag):
        self.node.RemoveObserver(tag)

    def connectParametersToGui(self, mapping):
        for name, combo in mapping.items():
            combo.clear()
            for choice in CHOICES[name][0]:
                combo.addItem(str(choice))
        self.next += 1
        self.connected[self.next] = mapping
        return self.next

    def disconnectGui(self, tag):
        del self.connected[tag]


def test_every_item_has_its_tooltip_after_every_bind(scene, monkeypatch):
    """Real Qt combo boxes (PySide6, offscreen), refilled at each bind as Slicer's connector does: the
    panel mixin gives every item its description again (setup, and enter after exit)."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    QtWidgets = pytest.importorskip("PySide6.QtWidgets")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])  # noqa: F841
    combos = {name: QtWidgets.QComboBox() for name in CHOICES}
    monkeypatch.setattr(compat, "parameter_widgets", lambda ui: combos)
    wrapper = ConnectingWrapper(scene.AddNewNodeByClass("vtkMRMLScriptedModuleNode", "SGRSTrain"))

    class Panel(ParameterPanel, VTKObservationMixin):
        logic = SimpleNamespace(getParameterNode=lambda: wrapper)
        uiWidget, parent = "the .ui", SimpleNamespace(isEntered=True)

        def __init__(self):
            VTKObservationMixin.__init__(self)

        def onParameters(self, caller=None, event=None):
            pass

        def refreshModels(self):
            pass

    def tips():
        return {name: {combo.itemText(i): combo.itemData(i, TOOLTIP_ROLE) for i in range(combo.count())}
                for name, combo in combos.items()}

    expected = {name: descriptions for name, (_c, _d, descriptions) in CHOICES.items()}
    panel = Panel()
    panel.setParameterNode(wrapper)                      # setup()
    assert tips() == expected
    panel.exit()
    wrapper.connectParametersToGui(combos)               # any bind refills: the tooltips are gone ...
    assert all(tip is None for items in tips().values() for tip in items.values())
    panel.enter()                                        # ... and the panel's next bind gives them again
    assert tips() == expected


@pytest.fixture(scope="module")
def segmentations_logic():
    return slicer.vtkSlicerSegmentationsModuleLogic()


def settings_like_the_parameter_node(**choice):
    """The module's parameter node as the Lib reads it: the widget's defaults, tiny for speed."""
    values = {name: default for name, (_base, _notes, default) in parameter_fields("SGRSTrain").items()}
    values.update(cohortFolder="", iterations=2, batch=4, device="cpu", **choice)
    return SimpleNamespace(**values)


def launch(session, settings, timeout=240):
    """Start through the Lib exactly as the widget's Train does; wait for the job's end."""
    from dataclasses import replace
    params = replace(train_parameters_from_settings(settings), patch=(32, 32, 16), filters=2, labelled=2,
                     extra_args=("--log-every", "1", "--val-every", "1000"))
    folder = session.start(params)
    end = time.time() + timeout
    while session.poll() in ("running", "cancelling"):
        assert time.time() < end, session.message
        time.sleep(0.05)
    assert session.state == "done", session.message
    return session.job.process.args, json.loads((folder / "config.json").read_text())


def test_the_chosen_method_recipe_and_teacher_reach_the_launched_command(scene, segmentations_logic, tiny_cohort,
                                                                         tmp_path):
    add_scene_cases(scene, segmentations_logic, tiny_cohort, ("case000", "case001", "case004"), ("case002",))
    session = TrainSession(scene, segmentations_logic, tmp_path / "jobs", registry=tmp_path / "registry",
                           python=LAUNCHER)
    session.collect()

    # a baseline with the reference teacher: the recipe stays the default one (sgrs only)
    args, config = launch(session, settings_like_the_parameter_node(method="mean-teacher", recipe="paper",
                                                                    teacher="reference"))
    assert args[args.index("--method") + 1] == "mean-teacher" and "--recipe" not in args and "--teacher-noise" in args
    assert (config["method"], config["recipe"], config["teacher_noise"]) == ("mean-teacher", "default", True)

    # the paper preset, picked by the user, sets sgrs with the paper's recipe; the teacher as chosen
    settings = settings_like_the_parameter_node(method="supervised", teacher="eval")
    session.estimate(settings, "paper")
    settings.iterations = 2                               # the preset's 15 000, shortened for the test
    args, config = launch(session, settings)
    assert args[args.index("--method") + 1] == "sgrs" and args[args.index("--recipe") + 1] == "paper"
    assert "--no-teacher-noise" in args and args.count("--recipe") == 1
    assert (config["method"], config["recipe"], config["teacher_noise"]) == ("sgrs", "paper", False)
    assert config["delta_rule"] == "intersection"         # the paper recipe's options, resolved by the engine


def test_an_unknown_choice_is_refused_in_one_line():
    from dataclasses import replace

    def reason(**choice):
        params = replace(train_parameters_from_settings(settings_like_the_parameter_node(**choice)),
                         cohort="cohort", out="job")
        return params.is_valid()

    ok, why = reason(method="fixmatch")
    assert not ok and why.startswith("method must be one of ('sgrs', ") and "\n" not in why
    assert reason(teacher="noisy")[1].startswith("teacher must be one of")
    assert reason(recipe="best")[1].startswith("recipe must be one of")
    assert reason() == (True, "")
