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
from SGRSSegmentLib.choices import TOOLTIP_ROLE, choice_labels, choice_tips, repair_stored_values
from SGRSSegmentLib.panel import ParameterPanel
from SGRSTrainLib.session import TrainSession, train_parameters_from_settings
from slicer.util import VTKObservationMixin
from slicer_wrapper import make_widget, module_parameter_node, wrapper_class
from test_binding_contract import Choice, bound_widgets, connector_error, parameter_fields

from sgrs.method import names
from sgrs.training.presets import DEFAULT, PRESETS

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


def train_wrapper(tag="main"):
    """SGRS Train's parameter node class as Slicer's parameterNodeWrapper makes it at ``tag`` (the strict
    stand-in: typed values, validators on write, caching, the connectors' order)."""
    return wrapper_class(parameter_fields("SGRSTrain"), tag)


@pytest.fixture()
def panel_on_qt(scene, monkeypatch):
    """A panel (the widgets' mixin) over real Qt combo boxes (PySide6, offscreen) and a real MRML node."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    pytest.importorskip("PySide6.QtWidgets")
    combos = {name: make_widget("QComboBox") for name in CHOICES}
    monkeypatch.setattr(compat, "parameter_widgets", lambda ui: combos)
    node = module_parameter_node(scene, "SGRSTrain")
    wrapper = train_wrapper()(node)

    class Panel(ParameterPanel, VTKObservationMixin):
        logic = SimpleNamespace(getParameterNode=lambda: wrapper)
        uiWidget, parent = "the .ui", SimpleNamespace(isEntered=True)

        def __init__(self):
            VTKObservationMixin.__init__(self)

        def onParameters(self, caller=None, event=None):
            pass

        def refreshModels(self):
            pass

    return Panel(), wrapper, node, combos


def test_every_item_has_its_text_and_tooltip_after_every_bind(panel_on_qt):
    """The panel mixin relabels every item (translated text, the description as tooltip) after each
    bind (setup, and enter after exit); the items stay in the choices' order, as the connector reads."""
    panel, wrapper, _node, combos = panel_on_qt
    labels = choice_labels()

    def items():
        return {name: {CHOICES[name][0][i]: (combo.itemText(i), combo.itemData(i, TOOLTIP_ROLE))
                       for i in range(combo.count())} for name, combo in combos.items()}

    expected = {name: {c: (labels[name][c], descriptions[c]) for c in choices}
                for name, (choices, _d, descriptions) in CHOICES.items()}
    panel.setParameterNode(wrapper)                      # setup()
    assert items() == expected
    panel.exit()
    wrapper.connectParametersToGui(combos)               # any bind refills: raw names, no tooltips ...
    assert all(text == c and tip is None for v in items().values() for c, (text, tip) in v.items())
    panel.enter()                                        # ... and the panel's next bind relabels them
    assert items() == expected


def test_every_choice_and_preset_has_a_label():
    labels = choice_labels()
    assert list(labels["preset"]) == list(PRESETS)
    assert {name: list(labels[name]) for name in CHOICES} == {name: list(c) for name, (c, _d, _t) in CHOICES.items()}


def test_what_the_method_ignores_is_greyed_out(panel_on_qt):
    panel, wrapper, node, combos = panel_on_qt
    panel.setParameterNode(wrapper)
    assert combos["recipe"].isEnabled() and combos["teacher"].isEnabled()  # sgrs: both apply
    node.SetParameter("method", "mean-teacher")                            # the node's ModifiedEvent
    assert not combos["recipe"].isEnabled() and combos["teacher"].isEnabled()
    node.SetParameter("method", "supervised")
    assert not combos["recipe"].isEnabled() and not combos["teacher"].isEnabled()
    node.SetParameter("method", "sgrs")
    assert combos["recipe"].isEnabled() and combos["teacher"].isEnabled()


def test_a_stored_choice_this_version_lacks_is_reset_before_the_bind(panel_on_qt):
    """A scene saved by another SGRS version: Slicer's connector raises on the unknown value at the
    bind and set-up stops; the panel resets it to the default first and keeps the known ones."""
    panel, wrapper, node, combos = panel_on_qt
    node.SetParameter("method", "fixmatch")
    node.SetParameter("device", "tpu")
    node.SetParameter("recipe", "paper")
    assert wrapper.method == "fixmatch"                  # read back unvalidated, as Slicer does
    with pytest.raises(ValueError, match="fixmatch"):     # what Slicer's bind does with it
        wrapper.connectParametersToGui(dict(combos))
    assert repair_stored_values(node, type(wrapper)) == ["device", "method"]
    assert (node.GetParameter("method"), node.GetParameter("device")) == (names.DEFAULT_METHOD, DEFAULT.device)
    node.SetParameter("teacher", "noisy")
    panel.setParameterNode(wrapper)                      # resets, then binds
    assert node.GetParameter("teacher") == names.DEFAULT_TEACHER and node.GetParameter("recipe") == "paper"
    assert panel.params is not wrapper and panel.params.parameterNode is node  # a fresh wrapper reads them
    assert combos["recipe"].currentText() == choice_labels()["recipe"]["paper"]


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
    session.estimate(settings, list(PRESETS).index("paper"))  # the widget passes the combo's index
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
