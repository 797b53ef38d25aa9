"""SGRS Train's "Check the new model on" combo box and its Keep / Roll back buttons, driven by the session
(``decision.py`` has the words). No qt import: the widgets are the module's .ui widgets, passed in.

    view = DecisionView(ui, session, params, changed)   # params(): the parameter node (or None); changed(): poll
    view.update()   # from the widget's poll: the labelled cases offered, the hint, the buttons shown while a new
                    # model waits for the user's choice

``DecisionPanel`` is the mixin SGRSTrainWidget takes (as ``ClassPanel``): ``showDecision()`` makes the view on
first use and updates it; the widget provides ``ui``, ``session``, ``params`` and ``poll()``.
"""
from __future__ import annotations

from SGRSSegmentLib.i18n import translate

from sgrs.util.errors import SGRSError

from .decision import hold_out_choices


def _value(attribute):
    """A Qt property read the same way in PythonQt (an attribute) and PySide (a method)."""
    return attribute() if callable(attribute) else attribute


class DecisionView:
    """Uses only calls PythonQt and PySide share (the widget-call-paths test runs it on PySide widgets)."""

    def __init__(self, ui, session, params, changed):
        self.ui, self.session, self.params, self.changed = ui, session, params, changed
        self._offered = None
        ui.holdOutComboBox.currentIndexChanged.connect(self.on_pick)
        ui.keepButton.clicked.connect(lambda: self.decide(session.keep))
        ui.rollBackButton.clicked.connect(lambda: self.decide(session.roll_back))
        ui.keepButton.setToolTip(translate("SGRSTrain", "Register the new model: Segment can then use it."))
        ui.rollBackButton.setToolTip(translate("SGRSTrain", "Keep using the base model; the new model is not "
                                                            "registered (its files stay in the job folder)."))

    def on_pick(self, index=None):
        params = self.params()
        if params is not None and isinstance(index, int) and index >= 0:
            params.holdOut = self.ui.holdOutComboBox.itemData(index) or ""
            self.changed()

    def decide(self, choice) -> None:
        import slicer
        try:
            choice()
        except SGRSError as exc:
            slicer.util.errorDisplay(str(exc))
        self.changed()

    def update(self) -> None:
        from SGRSSegmentLib.models import refill
        params, combo = self.params(), self.ui.holdOutComboBox
        choices = hold_out_choices(self.session.cases)
        held = getattr(params, "holdOut", "") or ""
        values = [value for _, value in choices]
        if choices != self._offered or _value(combo.currentIndex) != (values.index(held) if held in values else 0):
            self._offered = choices   # the collected cases changed, or a loaded scene holds another case out
            refill(combo, choices, held)   # signals blocked: the parameter is not rewritten by the refill
        if params is not None and held and held not in values and self.session.cases:   # collected: no longer
            params.holdOut = ""                                                            # a labelled case
        combo.setEnabled(bool(params is not None and params.baseModel) and not self.session.busy)
        self.ui.holdOutHintLabel.setText(self.session.hold_out_hint(params) if params is not None else "")
        for button in (self.ui.keepButton, self.ui.rollBackButton):
            button.setVisible(self.session.deciding)


class DecisionPanel:
    def afterSceneImport(self, scene) -> None:
        """From ParameterPanel.onSceneEndImport, once bound again: a renumbered hold-out is cleared."""
        from .decision import hold_out_after_import
        if self.params is not None and self.params.holdOut:
            self.params.holdOut = hold_out_after_import(scene, self.params.holdOut)

    def showDecision(self) -> None:
        if getattr(self, "_decision", None) is None:   # connected once, to this widget's .ui
            self._decision = DecisionView(self.ui, self.session, lambda: self.params, self.poll)
        self._decision.update()
