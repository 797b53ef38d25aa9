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
    path = Path(path)
    if path.suffix in (".pth", ".pt"):
        from sgrs.models.checkpoint import import_checkpoint
        return Path(import_checkpoint(path, unused_folder(registry_folder(registry), path.stem)))
    return register(path.parent if path.name == "model.json" else path, folder=registry).path


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
