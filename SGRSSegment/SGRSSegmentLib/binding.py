"""Connect a module's parameter node to its .ui widgets (runs in Slicer only: parameterNodeWrapper).

Widgets carry the dynamic property ``SlicerParameterName``. ``connectParametersToGui`` is used rather
than ``connectGui`` because on Slicer 5.8 ``connectGui`` returns no tag, so ``disconnectGui`` could
never undo it (fixed in 5.10). ``slicer.util.findChildren`` walks the widgets without importing qt.
"""
PROPERTY = "SlicerParameterName"


def parameter_widgets(ui_widget) -> dict:
    import slicer.util
    return {w.property(PROPERTY): w for w in slicer.util.findChildren(ui_widget)
            if hasattr(w, "property") and w.property(PROPERTY)}


def rebind(old, old_tag, new, ui_widget):
    """Disconnect ``old`` (a parameter node wrapper or None) and connect ``new``; returns the new tag."""
    if old is not None and old_tag is not None:
        old.disconnectGui(old_tag)
    return new.connectParametersToGui(parameter_widgets(ui_widget)) if new is not None else None
