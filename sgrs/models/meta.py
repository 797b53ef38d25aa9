"""A bundle's ``model.json``, read and checked without torch (the Slicer panels read a model's τ, Δ rule
and classes before the user has installed torch; the registry lists bundles the same way)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..util.errors import ModelError

FORMAT = "sgrs-bundle"
FORMAT_VERSION = 1   # what an engine must understand to load a bundle at all (unchanged since the first)
# What model.json holds, versioned separately so that older engines still load newer bundles (the keys
# added since are optional): 1 = every bundle written before the key existed; 2 = classes carry their
# terminology context, the provenance names the base model's content hash and lineage (issue 28).
SCHEMA_VERSION = 2


def read_meta(path) -> dict:
    path = Path(path)
    meta_path = path / "model.json" if path.is_dir() else path
    if path.suffix in (".pth", ".pt", ".ckpt", ".tar"):
        raise ModelError(f"{path}: a PyTorch checkpoint, not a model bundle; import it first with "
                         f"'sgrs import-checkpoint {path.name} --out BUNDLE'")
    if not meta_path.exists():
        raise ModelError(f"{path}: not a model bundle (no model.json)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{meta_path}: model.json is not valid JSON ({exc})") from None
    if meta.get("format") != FORMAT:
        raise ModelError(f"{meta_path}: not an SGRS model bundle (format {meta.get('format')!r})")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelError(f"{meta_path}: bundle format {meta['format_version']} is newer than this engine "
                         f"reads ({FORMAT_VERSION}); update sgrs")
    for key in ("architecture", "classes", "patch_size", "normalization", "files", "sha256"):
        if key not in meta:
            raise ModelError(f"{meta_path}: model.json lacks {key!r}")
    try:
        version = int(meta.get("schema_version", 1))
    except (TypeError, ValueError):
        raise ModelError(f"{meta_path}: schema_version {meta.get('schema_version')!r} is not a number") from None
    if version > SCHEMA_VERSION:
        raise ModelError(f"{meta_path}: model.json schema {version} is newer than this engine reads "
                         f"({SCHEMA_VERSION}); update sgrs")
    meta["schema_version"] = version   # a bundle written before the key existed reads as schema 1
    return meta


def content_hash(meta: dict) -> str:
    """SHA-256 naming a bundle's content: its files' own SHA-256 (weights and mix reference), so a
    renamed or re-registered copy has the same hash and retrained weights have another."""
    listing = "\n".join(f"{name}:{digest}" for name, digest in sorted(meta["sha256"].items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def region_rule(meta: dict) -> tuple[float, str]:
    """(τ, Δ rule) a bundle's regions are computed with unless overridden (older bundles lack the keys)."""
    return float(meta.get("tau", 0.296)), str(meta.get("delta_rule", "union"))
