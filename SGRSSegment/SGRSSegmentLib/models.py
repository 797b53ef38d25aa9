"""The models a GUI offers, and importing one (a bundle or an official ``.pth``) into the registry."""
from __future__ import annotations

from pathlib import Path


def model_choices(registry=None) -> list[tuple[str, str]]:
    """(label, bundle path) of every registered model, the bundled demo first."""
    from sgrs.models.registry import list_models
    return [(entry.label(), str(entry.path)) for entry in list_models(registry)]


def import_model(path, registry=None) -> Path:
    """Register a bundle (its folder or model.json), or convert a ``.pth``/``.pt`` state dict (read
    with weights_only=True, never executed). Returns the registered bundle folder; SGRSError if not."""
    from sgrs.models.registry import register, registry_folder, unused_folder

    from .dependencies import require
    path = Path(path)
    if path.suffix in (".pth", ".pt"):
        require("Importing a PyTorch checkpoint")  # converting needs torch; a bundle is only copied
        from sgrs.models.checkpoint import import_checkpoint
        return Path(import_checkpoint(path, unused_folder(registry_folder(registry), path.stem)))
    return register(path.parent if path.name == "model.json" else path, folder=registry).path


def refill(combo, choices, selected: str, first: tuple | None = None) -> str:
    """Fill a model combo box with (label, path) ``choices`` (after ``first``, e.g. "(new model)") and
    select ``selected`` when listed, else the first item. Returns the path now selected ("" if none).

    Signals stay blocked throughout: ``clear()`` and the first ``addItem`` emit ``currentIndexChanged``,
    and the panel's handler would write that item into the parameter node before the saved choice is
    found again (issue 14, item 5). Uses only calls PythonQt and PySide share."""
    items = ([first] if first else []) + list(choices)
    paths = [path for _label, path in items]
    index = paths.index(selected) if selected in paths else 0
    was_blocked = combo.blockSignals(True)
    try:
        combo.clear()
        for label, path in items:
            combo.addItem(label, path)
        combo.setCurrentIndex(index if items else -1)
    finally:
        combo.blockSignals(was_blocked)
    return paths[index] if items else ""


def model_card_text(path: str) -> str:
    """The model card as rich text for a label where the model is chosen (no torch)."""
    import html

    from sgrs.models.card import card_lines, model_facts
    from sgrs.util.errors import SGRSError
    if not path:
        return ""
    try:
        lines = card_lines(model_facts(path))
    except SGRSError as exc:
        return html.escape(str(exc))
    return "<br>".join(f"<b>{html.escape(k)}:</b> {html.escape(v)}" for k, v in lines)


def show_model(combo, settings, key: str = "model", first: tuple | None = None, registry=None,
               refresh: bool = False) -> str:
    """Make ``combo`` show the model ``settings.<key>`` names (Segment: "model", Train: "baseModel").

    Called when the panel is shown (``refresh``: a model trained or imported in the other panel appears)
    and on every parameter-node change: Close Scene resets the node to its defaults and a loaded scene
    brings its own choice, neither through the combo (review findings 2, 3). A model not listed refills
    the list, and the parameter then follows the item shown (Segment: with its τ and Δ rule). Signals stay
    blocked, as in ``refill``. Returns the model now selected."""
    from .parameters import follow_model
    selected = getattr(settings, key)
    index = -1 if refresh else combo.findData(selected)
    if index < 0:
        chosen = refill(combo, model_choices(registry), selected, first)
        if chosen != selected:
            follow_model(settings, chosen) if key == "model" else setattr(settings, key, chosen)
        return chosen
    was_blocked = combo.blockSignals(True)
    try:
        combo.setCurrentIndex(index)
    finally:
        combo.blockSignals(was_blocked)
    return selected
