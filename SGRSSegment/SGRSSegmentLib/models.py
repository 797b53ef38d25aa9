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
