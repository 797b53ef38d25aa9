"""The model registry: a folder of bundles listed the same way by the CLI, SGRSSegment, SGRSTrain
and the Studio. The bundled demo model is always listed.

Location: ``SGRS_MODELS`` if set, else ``~/.sgrs/models``; ``register`` copies a bundle in.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..util.atomic import write_text
from ..util.errors import ModelError, SGRSError
from .meta import read_meta

DEMO_MODEL = Path(__file__).resolve().parents[2] / "Resources" / "Demo" / "model"
MODEL_HELP = "a model bundle folder, or a name 'sgrs models' lists"


@dataclass
class ModelEntry:
    name: str
    path: Path
    method: str | None
    validation_dice: float | None
    bundled: bool = False

    def label(self) -> str:
        dice = f", val Dice {self.validation_dice:.3f}" if self.validation_dice is not None else ""
        return f"{self.name}{' (demo)' if self.bundled else ''}{dice}"


def registry_folder(folder=None) -> Path:
    return Path(folder or os.environ.get("SGRS_MODELS") or Path.home() / ".sgrs" / "models")


def _entry(path: Path, bundled: bool = False) -> ModelEntry | None:
    try:
        meta = read_meta(path)
    except ModelError:
        return None  # not a bundle: ignored in listings, refused when loaded
    prov = meta.get("provenance", {})
    val = (prov.get("validation") or {}).get("dice")
    return ModelEntry(meta.get("name") or path.name, path, prov.get("method"), val, bundled)


def list_models(folder=None) -> list[ModelEntry]:
    entries = []
    if (DEMO_MODEL / "model.json").exists():
        demo = _entry(DEMO_MODEL, bundled=True)
        if demo:
            entries.append(demo)
    root = registry_folder(folder)
    if root.is_dir():
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            e = _entry(sub)
            if e:
                entries.append(e)
    return entries


def unused_folder(root, base: str) -> Path:
    """``root/base``, or ``root/base-2``, ``-3``, … : the first name no bundle uses yet."""
    target, n = Path(root) / base, 2
    while target.exists():
        target, n = Path(root) / f"{base}-{n}", n + 1
    return target


def register(bundle, name: str | None = None, folder=None) -> ModelEntry:
    """Copy a bundle into the registry under a safe, unique folder name."""
    bundle = Path(bundle)
    meta = read_meta(bundle)
    root = registry_folder(folder)
    root.mkdir(parents=True, exist_ok=True)
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", name or meta.get("name") or bundle.name).strip("-") or "model"
    target = unused_folder(root, base)
    try:
        shutil.copytree(bundle, target)
        if name:   # the name lists show; a trained bundle calls itself "model" (its folder's name)
            meta = read_meta(target)
            meta["name"] = name
            write_text(target / "model.json", json.dumps(meta, indent=1))
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise SGRSError(f"{root}: cannot register the model ({exc.strerror or exc})") from None
    return _entry(target)


def resolve_model(spec, folder=None) -> Path:
    """A model as the user names it: a bundle folder, or the name ``sgrs models`` lists (the demo
    model's included). A path that exists wins over a registered name; a name two bundles share is
    refused with both folders, so the user can pass the one they mean."""
    spec = str(spec)
    path = Path(spec).expanduser()
    if path.exists():
        return path
    if os.sep in spec or "/" in spec:  # meant as a folder: say so, not "no such name"
        raise ModelError(f"{spec}: not a model bundle (no such folder)")
    entries = list_models(folder)
    matches = [e for e in entries if e.name == spec] or [e for e in entries if e.path.name == spec]
    if len(matches) == 1:
        return matches[0].path
    if matches:
        raise ModelError(f"'{spec}' names {len(matches)} registered models ("
                         + ", ".join(str(e.path) for e in matches) + "): pass the folder of the one you mean")
    names = ", ".join(sorted({e.name for e in entries})) or "none"
    raise ModelError(f"'{spec}': no model bundle folder and no registered model of that name "
                     f"(registered: {names}; 'sgrs models' lists them)")


def model_argument(spec) -> Path:
    """argparse ``type=`` for ``--model``/``--base-model``: the error becomes argparse's one usage line."""
    import argparse
    try:
        return resolve_model(spec)
    except ModelError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
