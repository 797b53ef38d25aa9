"""Model bundles: a folder with ``model.json``, student/teacher weights in safetensors and the
labelled mix-reference patch. Loading never unpickles anything; every file's SHA-256 is recorded
in ``model.json`` and checked, so tampered or truncated weights are refused.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__
from ..util.atomic import write_text
from ..util.errors import ModelError
from .classes import DEFAULT_COLORS, LEFT_ATRIUM, default_classes  # noqa: F401  (re-exported)
from .meta import FORMAT, FORMAT_VERSION, SCHEMA_VERSION, content_hash, read_meta  # noqa: F401  (re-exported)
from .vnet import VNet, build_model


@dataclass
class Bundle:
    path: Path
    meta: dict
    model: VNet
    mix_reference: np.ndarray | None   # normalised (x, y, z) patch, or None

    @property
    def patch_size(self) -> tuple[int, int, int]:
        return tuple(self.meta["patch_size"])

    @property
    def n_classes(self) -> int:
        return int(self.meta["architecture"]["n_classes"])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_bundle(out_dir, student: VNet, teacher: VNet | None, *, patch_size, classes: list[dict],
                normalization: dict, tau: float, delta_rule: str, mix_reference: np.ndarray | None,
                spacing=None, mix_lambda: float = 0.8, provenance: dict | None = None,
                name: str | None = None, postprocess: str = "none", orientation: str | None = None,
                geometry_note: str | None = None) -> Path:
    """Write a bundle folder. Files go to a sibling temp folder first, then one rename: an existing
    bundle at ``out_dir`` is replaced whole or not at all.

    ``spacing`` (mm, x y z) and ``orientation`` (a code such as ``LPS``, see sgrs.data.orientation)
    describe the arrays the model was trained on; ``sgrs segment`` brings scans to them. None: unknown,
    scans are used in file order at their own spacing (``geometry_note`` says why)."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    files = {"student": "student.safetensors"}
    save_file({k: v.detach().cpu().contiguous() for k, v in student.state_dict().items()},
              staging / files["student"])
    if teacher is not None:
        files["teacher"] = "teacher.safetensors"
        save_file({k: v.detach().cpu().contiguous() for k, v in teacher.state_dict().items()},
                  staging / files["teacher"])
    if mix_reference is not None:
        files["mix_reference"] = "mix_reference.safetensors"
        save_file({"image": torch.from_numpy(np.ascontiguousarray(mix_reference, dtype=np.float32))},
                  staging / files["mix_reference"])
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "schema_version": SCHEMA_VERSION, "name": name or out.name,
        "architecture": student.config(), "classes": classes, "patch_size": [int(p) for p in patch_size],
        "spacing": list(spacing) if spacing is not None else None,
        "orientation": orientation, "normalization": normalization,
        "tau": tau, "delta_rule": delta_rule, "mix_lambda": mix_lambda, "inference_weights": "student",
        "postprocess": postprocess,
        **({"geometry_note": geometry_note} if geometry_note else {}),
        "files": files, "sha256": {f: _sha256(staging / f) for f in files.values()},
        "provenance": {"engine_version": __version__, **(provenance or {})},
    }
    write_text(staging / "model.json", json.dumps(meta, indent=1))
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def load_bundle(path, weights: str | None = None, device: str | torch.device = "cpu") -> Bundle:
    """Load and verify a bundle; the model comes back in eval mode on ``device``."""
    root = Path(path)
    meta = read_meta(root)
    root = root if root.is_dir() else root.parent
    which = weights or meta.get("inference_weights", "student")
    if which not in meta["files"]:
        raise ModelError(f"{root}: bundle has no {which!r} weights (has {sorted(meta['files'])})")
    tensors = {}
    for role, name in meta["files"].items():
        f = root / name
        if not f.exists():
            raise ModelError(f"{root}: bundle file {name} is missing")
        if _sha256(f) != meta["sha256"].get(name):
            raise ModelError(f"{f}: checksum does not match model.json (file changed or truncated)")
        if role in (which, "mix_reference"):
            try:
                tensors[role] = load_file(f)
            except (SafetensorError, OSError) as exc:
                raise ModelError(f"{f}: not a readable safetensors file ({exc})") from None
    try:
        model = build_model(meta["architecture"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{root}: model.json architecture is invalid ({exc})") from None
    load_state_strict(model, tensors[which], str(root / meta["files"][which]))
    ref = tensors.get("mix_reference", {}).get("image")
    ref_np = None if ref is None else ref.numpy()
    if ref_np is not None and tuple(ref_np.shape) != tuple(meta["patch_size"]):
        raise ModelError(f"{root}: mix reference shape {ref_np.shape} differs from patch {meta['patch_size']}")
    return Bundle(root, meta, model.to(device).eval(), ref_np)


def load_state_strict(model: torch.nn.Module, state: dict, where: str) -> None:
    """Load with strict=True semantics, but say exactly which keys or shapes are wrong."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:3]}{' …' if len(missing) > 3 else ''} ({len(missing)})")
        if extra:
            parts.append(f"unexpected keys {extra[:3]}{' …' if len(extra) > 3 else ''} ({len(extra)})")
        raise ModelError(f"{where}: weights do not fit the V-Net: " + "; ".join(parts))
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise ModelError(f"{where}: weight shapes do not fit the V-Net: {wrong[0]}"
                         + (f" and {len(wrong) - 1} more" if len(wrong) > 1 else ""))
    model.load_state_dict(state, strict=True)
