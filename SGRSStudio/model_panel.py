"""Model: the registry's models (listed exactly as the CLI and SGRSSegment list them), import a
bundle folder or an official ``.pth`` state dict (read with ``weights_only=True``, never unpickled)."""
from __future__ import annotations

from pathlib import Path

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from sgrs.models.registry import list_models
from sgrs.util.errors import InputError

from . import uploads
from .panel import Panel


class ModelPanel(Panel):
    key, title = "model", "Model"

    def __init__(self, studio):
        super().__init__(studio)
        self.state.update({"models": [], "model_path": None, "model_import": "", "model_info": "", "model_card": []})
        self.state.change("model_path")(self._on_model)

    def build(self):
        v3.VSelect(v_model=("model_path",), items=("models",), label="Model", density="compact", id="model-select")
        html.Div("{{ model_info }}", classes="text-caption mb-2")
        with v3.VTable(density="compact", classes="mb-2 text-caption", id="model-card"):
            with html.Tbody():
                with html.Tr(v_for="row in model_card", key="row[0]"):
                    html.Td("{{ row[0] }}", classes="font-weight-bold pr-2", style="white-space: nowrap")
                    html.Td("{{ row[1] }}")
        v3.VBtn("Refresh list", click=self.refresh, size="small", variant="tonal", classes="mb-3")
        v3.VDivider()
        html.Div("Import a bundle folder or an official .pth below the data folder", classes="text-caption mt-2")
        v3.VTextField(v_model=("model_import",), label="Path below the data folder", density="compact",
                      id="model-import-path")
        v3.VBtn("Import", click=lambda: self.studio.guard(self.import_model, self.state.model_import),
                id="model-import")

    def refresh(self, select: str | None = None):
        entries = list_models(self.studio.models_dir)
        self.state.models = [{"title": e.label(), "value": str(e.path)} for e in entries]
        if select is not None:
            self.state.model_path = str(select)
        elif self.state.model_path not in {str(e.path) for e in entries}:
            self.state.model_path = str(entries[0].path) if entries else None

    def _on_model(self, model_path, **_):
        """The model card: what the model was trained on, so a scan far from it is no surprise."""
        from sgrs.models.meta import read_meta
        from sgrs.models.card import card_lines

        entry = next((e for e in list_models(self.studio.models_dir) if str(e.path) == model_path), None)
        self.state.model_info = "" if entry is None else f"{entry.name}{' (bundled demo)' if entry.bundled else ''}"
        self.state.model_card = [] if entry is None else [list(row) for row in card_lines(read_meta(entry.path))]

    def import_model(self, relative: str) -> Path:
        """Same import as the desktop module (``SGRSSegmentLib.models``), from below --data only."""
        from SGRSSegmentLib.models import import_model

        source = uploads.inside(self.studio.data_dir, relative)
        if not source.exists():
            raise InputError(f"'{relative}' not found below the data folder")
        path = import_model(source, self.studio.models_dir)
        self.refresh(select=str(path))
        self.studio.notify(f"Imported model '{Path(path).name}'", "success")
        return Path(path)
