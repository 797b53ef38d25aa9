"""Tooltips for the items of the panels' choice parameters (SGRS Train's method, recipe and teacher).

Slicer's combo-box connector refills a bound combo box with ``str(choice)`` items every time the
panel binds its parameter node (``guiConnectors.py`` ``QComboBoxToStringableConnector.__init__``:
``clear()`` then ``addItem(str(c))``, v5.8.1 l. 377-379, v5.10.0 / v5.12.x / main l. 440-442), so the
panel gives the items their tooltips after each bind, found by their text.

The English is the engine's (``sgrs.method.names``), written out here because lupdate extracts only
string literals at a ``translate`` call; ``Testing/slicer/test_method_choice.py`` checks both say the same.
No qt here: the combo box is used through ``findText`` / ``setItemData``, which PythonQt and PySide share.
"""
from __future__ import annotations

from .i18n import translate

TOOLTIP_ROLE = 3  # Qt::ToolTipRole; QComboBox::setItemData takes the role as an int (Qt 5 and 6)


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
                "the recipe's: eval mode on the clean scan (default, paper), the reference teacher (released)"),
            "reference": translate(
                "SGRSTrain", "the reference teacher of UA-MT, SSL4MIS and the released code: train mode "
                             "(dropout on) on the scan plus clamped noise"),
            "eval": translate(
                "SGRSTrain",
                "eval mode on the clean scan: the teacher's pseudo labels are close to the student's own prediction"),
        },
    }


def show_choice_tips(widgets: dict) -> int:
    """Give the items of the bound combo boxes in ``widgets`` ({parameter name: widget}) their tooltips;
    returns how many items got one."""
    shown = 0
    for name, tips in choice_tips().items():
        combo = widgets.get(name)
        if combo is None:
            continue
        for value, tip in tips.items():
            index = combo.findText(value)
            if index >= 0:
                combo.setItemData(index, tip, TOOLTIP_ROLE)
                shown += 1
    return shown
