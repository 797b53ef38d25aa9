"""The model card: what a bundle was trained on, and how far a scan is from that world.

    world = world_of_images(paths)            # at training: spacing, size, intensity percentiles, modality
    lines = card_lines(meta)                  # [(label, text)]: what a GUI shows where the model is chosen
    notes = scan_warnings(meta, array, geometry)   # another modality, intensity range, spacing, size
    warned = world_warnings(meta, array, geometry)  # the same as the engine's warnings (sgrs segment, GUIs)
    n = approx_windows(meta, geometry, overlap)    # WindowCount: the windows the run will take
    s = seconds_per_window(timings_dir, meta, device); record_timing(...)   # measured on this machine

No torch here: the desktop panels show the card at set-up. Modality is inferred from intensities
(Hounsfield units reach below −500 in air and fat; MR and phantom intensities do not), because
NRRD / NIfTI files do not say.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


MAX_CASES = 8              # enough for percentiles; a big cohort is not read twice
SPACING_RATIO = 2.0        # a scan this much finer or coarser than the model's spacing is announced
EXTENT_RATIO = 3.0         # ... and one this much larger or smaller (physical size)
RANGE_RATIO = 4.0          # ... and an intensity spread this much wider or narrower
TIMINGS = "timings.json"


def model_facts(path) -> dict:
    """``model.json`` as plain JSON, without importing torch (for panels at set-up); loading a bundle
    still goes through ``bundle.read_meta`` / ``load_bundle``, which validate it."""
    from ..util.errors import ModelError

    path = Path(path)
    try:
        return json.loads((path / "model.json" if path.is_dir() else path).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path.name}: no readable model.json ({exc})") from None


def modality_of(p1: float) -> str:
    return "CT" if p1 < -500 else "MR or other"   # air in Hounsfield units; MR has no such values


def intensity_stats(array: np.ndarray) -> dict:
    sample = np.asarray(array, np.float32).ravel()[:: max(1, array.size // 2_000_000)]
    p1, p50, p99 = (float(v) for v in np.percentile(sample, [1, 50, 99]))
    return {"p1": round(p1, 2), "p50": round(p50, 2), "p99": round(p99, 2)}


def world_of_images(paths) -> dict | None:
    """The raw (un-normalised) intensity percentiles, spacing and size of up to MAX_CASES images."""
    from ..data.image_io import read_image

    stats, spacings, extents = [], [], []
    for path in list(paths)[:MAX_CASES]:
        try:
            array, geometry = read_image(path)
        except Exception:  # noqa: BLE001  a card is a description: an unreadable file is left out
            continue
        stats.append(intensity_stats(array))
        spacings.append(geometry.spacing)
        extents.append([n * s for n, s in zip(geometry.size, geometry.spacing)])
    if not stats:
        return None
    median = {k: round(float(np.median([s[k] for s in stats])), 2) for k in ("p1", "p50", "p99")}
    return {"cases_read": len(stats), "intensity": median, "modality": modality_of(median["p1"]),
            "spacing": [round(float(v), 3) for v in np.median(np.array(spacings), axis=0)],
            "extent_mm": [round(float(v), 1) for v in np.median(np.array(extents), axis=0)]}


def _fmt(values, unit="") -> str:
    return " × ".join(f"{v:g}" for v in values) + unit


def validation_text(meta: dict) -> str:
    prov = meta.get("provenance") or {}
    val = prov.get("validation") or {}
    if val.get("dice") is not None:
        n = len(val.get("per_case") or {}) or len((prov.get("data") or {}).get("val") or [])
        return f"Dice {val['dice']:.3f} on {n} held-out case(s) at iteration {val.get('iteration', '?')}"
    return ("not measured: there was no validation case (a scene cohort keeps one back only when it has "
            "3 or more labelled cases); judge the result on screen")


def card_lines(meta: dict) -> list[tuple[str, str]]:
    """What the model is, in the order a reader asks: data, modality, geometry, classes, training."""
    prov = meta.get("provenance") or {}
    data, world = prov.get("data") or {}, prov.get("world") or {}
    lines = []
    cohort = f"{len(data.get('labelled') or [])} labelled + {len(data.get('unlabelled') or [])} unlabelled cases" \
        if data else "unknown (imported weights)"
    if prov.get("data_note"):
        cohort += f" — {prov['data_note']}"
    lines.append(("Trained on", cohort))
    if world:
        i = world["intensity"]
        lines.append(("Modality", f"{world['modality']} (intensities 1–99 %: {i['p1']:g} … {i['p99']:g})"))
        lines.append(("Scan size", _fmt(world["extent_mm"], " mm")))
    else:
        lines.append(("Modality", "not recorded in this model"))
    spacing = meta.get("spacing")
    lines.append(("Spacing", _fmt(spacing, " mm") if spacing else "not recorded: scans are used as they are"))
    lines.append(("Patch", _fmt(meta.get("patch_size") or [], " voxels")))
    lines.append(("Classes", ", ".join(c["name"] for c in meta.get("classes", []) if c.get("value", 0) > 0)))
    base = f", fine-tuned from {prov['base_model']}" if prov.get("base_model") else ""
    if base and prov.get("base_model_sha256"):
        base += f" (content {prov['base_model_sha256'][:12]})"
    lines.append(("Method", f"{prov.get('method') or 'n/a'}, {prov.get('iterations', '?')} iterations{base}"))
    lines.append(("Validation", validation_text(meta)))
    return lines


def scan_warnings(meta: dict, array: np.ndarray, geometry) -> list[str]:
    """Why this scan is outside the model's world (empty: it looks like what the model saw)."""
    world = (meta.get("provenance") or {}).get("world") or {}
    notes = []
    scan = intensity_stats(array)
    if world:
        i = world["intensity"]
        modality = modality_of(scan["p1"])
        if modality != world["modality"]:
            notes.append(f"the scan looks like {modality} (intensities {scan['p1']:g} … {scan['p99']:g}); "
                         f"the model was trained on {world['modality']} ({i['p1']:g} … {i['p99']:g})")
        else:
            spread, model_spread = scan["p99"] - scan["p1"], i["p99"] - i["p1"]
            if model_spread > 0 and spread > 0 and max(spread / model_spread, model_spread / spread) > RANGE_RATIO:
                notes.append(f"intensity spread {spread:g} against the model's {model_spread:g}")
        extent = [n * s for n, s in zip(geometry.size, geometry.spacing)]
        ratios = [e / m for e, m in zip(extent, world["extent_mm"]) if m > 0]
        if ratios and max(max(ratios), 1 / min(ratios)) > EXTENT_RATIO:
            notes.append(f"scan size {_fmt([round(e) for e in extent], ' mm')} against the model's "
                         f"{_fmt([round(e) for e in world['extent_mm']], ' mm')}")
    spacing = meta.get("spacing")
    if spacing:
        ratios = [s / m for s, m in zip(geometry.spacing, spacing) if m > 0]
        if ratios and max(max(ratios), 1 / min(ratios)) > SPACING_RATIO:
            notes.append(f"spacing {_fmt([round(s, 2) for s in geometry.spacing], ' mm')} against the model's "
                         f"{_fmt(spacing, ' mm')}")
    return notes


WORLD = "scan unlike the model's training data: "


def world_warnings(meta: dict, array: np.ndarray, geometry, already: list | None = None) -> list[str]:
    """:func:`scan_warnings` as the engine says them (``sgrs segment``, ``summary.json``, results.csv, the
    GUIs before and after a run); ``already``: warnings given about the scan's spacing, not repeated."""
    told_spacing = any(w.startswith("scan spacing") for w in already or [])
    return [WORLD + note for note in scan_warnings(meta, array, geometry)
            if not (told_spacing and note.startswith("spacing "))]


def approx_windows(meta: dict, geometry, overlap: float, regions: bool = True, mixed_view: str = "near",
                   mixed_overlap: float | None = None):
    """The :class:`~sgrs.inference.windows.WindowCount` a run will report for this scan at the model's
    spacing (exact for an axis-aligned scan), without importing torch. ``mixed_overlap`` None: the
    engine's default mixed-view grid."""
    from ..inference.defaults import MIXED_OVERLAP
    from ..inference.windows import run_windows

    spacing = meta.get("spacing") or geometry.spacing
    size = [max(1, int(math.floor(n * s / m + 0.5))) for n, s, m in zip(geometry.size, geometry.spacing, spacing)]
    return run_windows(size, meta["patch_size"], overlap, regions, mixed_view,
                       MIXED_OVERLAP if mixed_overlap is None else mixed_overlap)


def _timing_key(meta: dict, device: str) -> str:
    arch = meta.get("architecture") or {}
    return f"{arch.get('name', 'vnet')}-{arch.get('n_filters')}-{'x'.join(map(str, meta['patch_size']))}-{device}"


def seconds_per_window(folder, meta: dict, device: str) -> float | None:
    """Measured on this machine for this architecture, patch and device (None: never run here)."""
    from ..util import speed
    if device == "auto":   # the device "auto" picked last time
        return speed.window_seconds_any(folder, _timing_key(meta, ""))
    return speed.window_seconds(folder, _timing_key(meta, device))


def record_timing(folder, meta: dict, device: str, windows: int, seconds: float) -> None:
    """Remember seconds per window of a finished run: the whole run over both views' windows (the
    summary's ``windows``), so the estimate includes loading and the region maps."""
    from ..util import speed
    if windows and seconds > 0:
        speed.record_window_seconds(folder, _timing_key(meta, device), seconds / windows)


def store_timing(folder, key: str, seconds: float) -> None:
    """One measured figure into the folder's timings table (sgrs.util.speed keeps it)."""
    from ..util import speed
    speed.store(folder, key, seconds)


def estimate_text(count, per_window: float | None) -> str:
    """The run time before a run: ``count`` (a WindowCount) × the seconds per window measured here. With
    the mixed view's windows known only during the run, a range from the plain view alone to the whole grid."""
    from ..util.progress import format_seconds

    if per_window is None:
        return f"{count.text()}; the time per window is measured on the first run on this machine"
    most = format_seconds(count.total * per_window)
    span = most if count.mixed_known else f"{format_seconds(count.plain * per_window)} to {most}"
    return f"{count.text()} × {per_window:.2f} s ≈ {span} (measured here)"
