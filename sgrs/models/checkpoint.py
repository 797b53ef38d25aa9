"""Import of official SGRS-Net / UA-MT / MC-Net ``.pth`` state dicts into a bundle.

Only ``torch.load(weights_only=True)`` touches the file: a pickle carrying code is refused by
PyTorch's restricted unpickler instead of executed.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from ..data.normalize import Normalization
from ..data.orientation import check_code
from ..method.synergy import DEFAULT_TAU
from ..util.errors import ModelError
from .bundle import default_classes, load_state_strict, save_bundle
from .vnet import VNet

WRAPPER_KEYS = ("state_dict", "model", "net", "model_state_dict")


def read_state_dict(path) -> dict[str, torch.Tensor]:
    """Read a state dict safely; unwrap ``{'state_dict': ...}`` and strip DataParallel's ``module.``."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: checkpoint not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise ModelError(f"{path}: refused: the file holds more than tensors and will not be executed "
                         f"({first[:160]})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable PyTorch checkpoint (corrupt or truncated: "
                         f"{str(exc).splitlines()[0][:160]})") from None
    if isinstance(obj, dict):
        for key in WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{path}: not a state dict of tensors")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def model_from_state_dict(state: dict, where: str) -> VNet:
    """Build the V-Net the weights describe (filters, classes) and load them strictly."""
    try:
        first = state["encoder.block_one.conv.0.weight"]
        out = state["decoder1.out_conv.weight"]
    except KeyError as exc:
        raise ModelError(f"{where}: weights do not fit the V-Net: missing key {exc.args[0]}") from None
    model = VNet(n_classes=int(out.shape[0]), n_filters=int(first.shape[0]), in_channels=int(first.shape[1]))
    load_state_strict(model, state, where)
    return model


def import_checkpoint(path, out_dir, patch_size=(112, 112, 80), classes=None, tau: float = DEFAULT_TAU,
                      delta_rule: str = "union", mix_reference: np.ndarray | None = None,
                      normalization: Normalization = Normalization(), spacing=None,
                      orientation: str | None = None) -> Path:
    """Official ``.pth`` → bundle. Student and teacher are the same weights (no teacher published).

    The released checkpoints carry no spacing or orientation: unless given here, the bundle records
    none and ``sgrs segment`` keeps today's behaviour for it (file order, the scan's own spacing)."""
    state = read_state_dict(path)
    model = model_from_state_dict(state, str(path))
    names = classes or (["background", "left atrium"] if model.n_classes == 2
                        else ["background"] + [f"class {i}" for i in range(1, model.n_classes)])
    if orientation is not None:
        orientation = check_code(orientation)
    unknown = [k for k, v in (("spacing", spacing), ("orientation", orientation)) if v is None]
    note = (f"imported without {' or '.join(unknown)} metadata: sgrs segment uses scans "
            + ("in file order" if "orientation" in unknown else "") + (" and " if len(unknown) == 2 else "")
            + ("at their own spacing" if "spacing" in unknown else "")
            + " (pass --spacing / --orientation to import-checkpoint to change this)") if unknown else None
    return save_bundle(out_dir, model, None, patch_size=patch_size, classes=default_classes(names),
                       normalization=normalization.to_json(), tau=tau, delta_rule=delta_rule,
                       mix_reference=mix_reference, spacing=spacing, orientation=orientation, geometry_note=note,
                       provenance={"imported_from": Path(path).name, "source": "official state dict"})
