"""The items of the panels' choice parameters (SGRS Train's preset, method, recipe and teacher):
translated text and tooltips, what the chosen method ignores greyed out, and stored values the panel
cannot show (an unknown choice, a number out of its range) repaired on the node.

Slicer's combo-box connector refills a bound combo box with ``str(choice)`` items every time the
panel binds its parameter node (``guiConnectors.py`` ``QComboBoxToStringableConnector.__init__``:
``clear()`` then ``addItem(str(c))``, v5.8.1 l. 377-379, v5.10.0 / v5.12.x / main l. 440-442), so the
panel relabels the items after each bind, found by that text. The connector reads and writes by
index (``read``/``write``, v5.8.1 l. 390-399, the others l. 453-462), so the shown text is free.

The English is the engine's (``sgrs.method.names``), written out here because lupdate extracts only
string literals at a ``translate`` call; ``Testing/slicer/test_method_choice.py`` checks both say the same.
No qt here: the combo box is used through methods PythonQt and PySide share (``itemText``,
``setItemText``, ``setItemData``, ``setEnabled``); ``count`` is a property in PythonQt, a method in PySide.
"""
from __future__ import annotations

import typing

from .i18n import translate

BOOL_TEXTS = {"true": "True", "1": "True", "yes": "True", "false": "False", "0": "False", "no": "False"}
TOOLTIP_ROLE = 3  # Qt::ToolTipRole; QComboBox::setItemData takes the role as an int (Qt 5 and 6)


def choice_labels() -> dict[str, dict[str, str]]:
    """{parameter name: {choice: the item's text}}, translated; the parameter node keeps the choice."""
    return {
        "preset": {
            "quick look (CPU, minutes)": translate("SGRSTrain", "quick look (CPU, minutes)"),
            "standard (GPU)": translate("SGRSTrain", "standard (GPU)"),
            "paper": translate("SGRSTrain", "paper"),
        },
        "method": {
            "sgrs": translate("SGRSTrain", "SGRS-Net"),
            "mix": translate("SGRSTrain", "mix augmentation only"),
            "self-training": translate("SGRSTrain", "self-training"),
            "mean-teacher": translate("SGRSTrain", "mean teacher"),
            "supervised": translate("SGRSTrain", "supervised only"),
        },
        "recipe": {
            "default": translate("SGRSTrain", "default"),
            "paper": translate("SGRSTrain", "paper"),
            "released": translate("SGRSTrain", "released code"),
        },
        "teacher": {
            "recipe": translate("SGRSTrain", "the recipe's"),
            "reference": translate("SGRSTrain", "reference (train mode, noisy scan)"),
            "eval": translate("SGRSTrain", "eval mode (clean scan)"),
        },
    }


def choice_tips() -> dict[str, dict[str, str]]:
    """{parameter name: {choice: tooltip}}, translated."""
    return {
        "method": {
            "sgrs": translate(
                "SGRSTrain", "SGRS-Net: mix augmentation, synergy evaluation and the regional losses"),
            "mix": translate(
                "SGRSTrain",
                "hard-label self-training on the unlabelled and the mixed view (SGRS-Net ablation '+ MA')"),
            "self-training": translate(
                "SGRSTrain",
                "hard-label self-training: ½(CE + Dice) toward the teacher's argmax (SGRS-Net ablation 'base')"),
            "mean-teacher": translate(
                "SGRSTrain",
                "mean teacher of UA-MT / SSL4MIS: softmax MSE to the teacher, weight 0.1, ramped over the run"),
            "supervised": translate("SGRSTrain", "the labelled cases only"),
        },
        "recipe": {
            "default": translate(
                "SGRSTrain",
                "ours, chosen by the powered benchmark: the released code's hard CE where the two views agree"),
            "paper": translate(
                "SGRSTrain", "the equations as printed: Dice over all classes, Δ = ∩ of formula 5, no loss on Δ"),
            "released": translate("SGRSTrain", "the authors' released code, without its cross-sample mask bug"),
        },
        "teacher": {
            "recipe": translate(
                "SGRSTrain",
                "the recipe's: the reference teacher in every recipe (default, paper, released)"),
            "reference": translate(
                "SGRSTrain", "the reference teacher of UA-MT, SSL4MIS and the released code: train mode "
                             "(dropout on) on the scan plus clamped noise"),
            "eval": translate(
                "SGRSTrain",
                "eval mode on the clean scan: the teacher's pseudo labels are close to the student's own prediction"),
        },
    }


def show_choices(widgets: dict) -> int:
    """Right after a bind: give the items of the bound combo boxes in ``widgets`` ({parameter name:
    widget}) their translated text and tooltip; returns how many items were relabelled."""
    labels, tips = choice_labels(), choice_tips()
    shown = 0
    for name in labels:
        combo = widgets.get(name)
        if combo is None:
            continue
        count = combo.count() if callable(combo.count) else combo.count
        for index in range(count):
            value = combo.itemText(index)
            if value in labels[name]:
                combo.setItemText(index, labels[name][value])
                if value in tips.get(name, {}):
                    combo.setItemData(index, tips[name][value], TOOLTIP_ROLE)
                shown += 1
    return shown


def enable_choices(widgets: dict, params) -> None:
    """Grey out what the chosen method ignores: the recipe (the sgrs method's only) and the teacher
    (supervised training has none)."""
    method = getattr(params, "method", None)
    if method is None:
        return
    for name, used in (("recipe", method == "sgrs"), ("teacher", method != "supervised")):
        if name in widgets:
            widgets[name].setEnabled(used)


def repair_stored_values(node, wrapper_class) -> list[str]:
    """Put every stored value the panel cannot show back in its bounds, on the node itself: a choice
    outside its ``Choice`` (a scene from another SGRS version) goes back to the default, since the combo
    connector raises on it (``write``, see above) and the widgets after it are not updated; a number
    outside its ``WithinRange`` / ``Minimum`` / ``Maximum`` is clamped, since the slider shows it clamped
    while the node keeps it and the run would use it (the connector writes the widget before it listens
    to it: ``wrapper.py`` ``_connectParametersToGui`` v5.8.1 / v5.10.0 l. 209-210, v5.12.x / main
    l. 210-211); one that does not parse as its type goes back to the default, a whole number written as
    a float (``6000.0``) keeps its value; a bool stored other than ``True`` / ``False`` (``true``, ``1``: a
    script's spelling) is written as Slicer's, since Slicer reads every other text as False and "Region
    maps" would be switched off without the user seeing why.

    Reads the wrapper class's ``allParameters`` (name → ParameterInfo: ``default.value``,
    ``unalteredType``; ``wrapper.py`` and ``parameterInfo.py``, the same at v5.8.1, v5.10.0, v5.12.3 and
    main). Values are stored as the serializers write them: a string as itself, a number as ``str``
    (``serializers.py`` StringSerializer, NumberSerializer). Returns the names repaired."""
    repaired = []
    for name, info in getattr(wrapper_class, "allParameters", {}).items():
        if not node.HasParameter(name):
            continue
        base, *notes = typing.get_args(info.unalteredType) or (info.unalteredType,)
        stored, value = node.GetParameter(name), _repaired(node.GetParameter(name), base, notes, info.default.value)
        if value is not None and value != stored:
            node.SetParameter(name, value)
            repaired.append(name)
    return repaired


def _repaired(stored: str, base, notes, default) -> str | None:
    """The stored text this value should have, or None when nothing bounds it."""
    choices = [m.choices for m in notes if hasattr(m, "choices")]
    if base is bool:  # Slicer reads only "True" as True (BoolSerializer.read, v5.8.1 l. 371, main l. 374)
        return stored if stored in ("True", "False") else BOOL_TEXTS.get(stored.strip().lower(), str(default))
    if base not in (int, float):
        return None if not choices or stored in choices[0] else str(default)
    try:
        value = base(stored)
    except ValueError:
        value = _whole_number(stored) if base is int else None
        if value is None:
            return str(default)
    if value != value or (choices and value not in choices[0]):  # NaN, or a number not offered
        return str(default)
    for note in notes:
        low, high = getattr(note, "minimum", None), getattr(note, "maximum", None)
        value = value if low is None or value >= low else base(low)
        value = value if high is None or value <= high else base(high)
    return stored if _same(stored, base, value) else str(value)


def _whole_number(stored: str) -> int | None:
    """``int("6000.0")`` raises (Slicer's NumberSerializer reads ``int(text)``): a whole number written
    as a float (a script, another version's float field) keeps its value rather than the default."""
    try:
        number = float(stored)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _same(stored: str, base, value) -> bool:
    try:
        return base(stored) == value
    except ValueError:
        return False
