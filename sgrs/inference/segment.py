"""``sgrs segment``: label map, Δ/Ω/Θ region map, entropy map and per-region statistics.

Region map label convention (``regions.nrrd``, uint8), every voxel exactly one of:
    1 = Ω consistent (confident, plain and mixed views agree)
    2 = Θ inconsistent (confident, the views disagree: fragile under perturbation)
    3 = Δ uncertain (log10 entropy above τ in either view, or both with ``intersection``)
Entropy map (``entropy.nrrd``, uint8): round(255 · Ent(P_U) / log10(C)), 0 certain … 255 maximal.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.image_io import Geometry, read_scan, write_image
from ..data.normalize import Normalization
from ..evaluation.metrics import largest_component
from ..method.synergy import DELTA_RULES, class_argmax, entropy_log10
from ..models.bundle import Bundle, load_bundle
from ..models.card import world_warnings
from ..models.meta import region_rule
from ..util.atomic import write_text
from ..util.device import resolve_device
from ..util.errors import InputError, ModelError, SGRSError
from .maps import DELTA, OMEGA, REGION_KEYS, REGION_NAMES, THETA, maps_by_slab  # noqa: F401 (re-exported)
from .outputs import OUTPUT_FILES, Segmentation  # noqa: F401 (re-exported)
from .overview import draw_overview
from .prepare import (  # noqa: F401
    SPACING_WARN_RATIO,
    WRONG_MODEL_RATIO,
    finish_maps,
    plan_scan,
    prepare_image,
)
from .resample import INTERPOLATORS
from .backends import make_predictor
from .defaults import DEFAULT_OVERLAP, FAST_OVERLAP, MIXED_OVERLAP
from .lanes import Lanes, auto_lanes
from .memory import OomLadder
from .sliding import sliding_window
from .case_scores import structure_scores
from .features import pooled_features, read_feature_stats
from .maps import labels_by_slab
from .trust import review_fields
from .review import padding_mask

MIXED_VIEWS = ("near", "all")
TTA_FLIPS = ((0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2))  # axes each extra TTA pass flips


@dataclass
class SegmentOptions:
    overlap: float = DEFAULT_OVERLAP
    regions: bool = True
    delta_rule: str | None = None      # None: the bundle's
    tau: float | None = None           # None: the bundle's
    mix_lambda: float | None = None    # None: the bundle's
    device: str = "auto"
    batch_size: int = 2
    weights: str | None = None         # "student" (default) or "teacher"
    postprocess: str | None = None     # None: the bundle's ("none" or "lcc")
    keep_spacing: bool = False         # True: no resampling to the model's spacing
    interpolation: str = "linear"      # image resampling: "linear" or "bspline"
    roi: tuple | None = None           # (xmin, ymin, zmin, xmax, ymax, zmax), LPS mm, the image's coordinates
    series: str | None = None          # DICOM folder: SeriesInstanceUID (None: the largest 3D series)
    mixed_view: str = "near"           # "near": the mixed view only around the structure; "all": everywhere
    mixed_overlap: float = MIXED_OVERLAP  # the mixed view's grid, never finer than the plain view's
    fast: bool = False                 # overlap FAST_OVERLAP instead of ``overlap`` (docs/benchmarks.md: its Dice cost)
    backend: str = "auto"              # "auto" | "torch" | "openvino" (CPU only; see sgrs.inference.backends)
    lanes: int | None = None           # windows predicted at once on the CPU; None: sgrs.inference.lanes.auto_lanes
    tta: int = 1                       # predictions for the flip-TTA score (1: none; N: N - 1 flipped passes)
    feature_distance: bool | None = None  # the feature pass (one encoder pass): None = when the case flag's
    #   rule reads a feature distance (case_flag.reads_features); True/False: always/never. It is left out
    #   otherwise because on a scan of a few windows it alone costs ~10 % of the segmentation (docs/trust.md)

    @property
    def window_overlap(self) -> float:
        return FAST_OVERLAP if self.fast else self.overlap

    @property
    def mixed_window_overlap(self) -> float:
        return min(self.window_overlap, self.mixed_overlap)

    def check(self) -> None:
        if not 0.0 <= self.overlap < 1.0:
            raise SGRSError(f"overlap must be in [0, 1), got {self.overlap}")
        if not 0.0 <= self.mixed_overlap < 1.0:
            raise SGRSError(f"mixed-view overlap must be in [0, 1), got {self.mixed_overlap}")
        if self.postprocess not in (None, "none", "lcc"):
            raise SGRSError(f"postprocess must be 'none' or 'lcc', not {self.postprocess!r}")
        if self.delta_rule is not None and self.delta_rule not in DELTA_RULES:
            raise SGRSError(f"delta rule must be one of {DELTA_RULES}, not {self.delta_rule!r}")
        if self.lanes is not None and self.lanes < 1:
            raise SGRSError(f"lanes must be at least 1, got {self.lanes}")
        if (self.lanes or 1) > 1 and self.backend == "openvino":
            raise SGRSError("lanes apply to the torch backend only; OpenVINO shares out its own threads")
        if self.mixed_view not in MIXED_VIEWS:
            raise SGRSError(f"mixed view must be one of {MIXED_VIEWS}, not {self.mixed_view!r}")
        if not 1 <= self.tta <= len(TTA_FLIPS) + 1:
            raise SGRSError(f"tta must be 1 (off) to {len(TTA_FLIPS) + 1}, got {self.tta}")
        if self.interpolation not in INTERPOLATORS:
            raise SGRSError(f"interpolation must be one of {sorted(INTERPOLATORS)}, not {self.interpolation!r}")


def segment_array(image: np.ndarray, geometry: Geometry, bundle: Bundle, options: SegmentOptions,
                  progress=None, warnings: list | None = None, on_warning=None) -> Segmentation:
    """Segment an (x, y, z) array already read; the Python API behind ``sgrs segment``.

    ``progress(step)`` hears a :class:`~.windows.WindowProgress` after each window batch (both views'
    windows, as ``sgrs.models.card.approx_windows`` counts them before the run and ``summary["windows"]``
    after it).
    ``on_warning(text)`` hears each warning as it happens (an out-of-memory recovery, for example);
    all of them also end in ``summary["warnings"]``."""
    options.check()
    device = resolve_device(options.device)
    bundle.model.to(device)
    t0, c0 = time.monotonic(), time.process_time()   # wall and this process's CPU (the scores' share of both)
    warnings = [] if warnings is None else warnings
    plan = plan_scan(geometry, bundle.meta, options.keep_spacing, options.interpolation, options.roi)
    world = world_warnings(bundle.meta, image, geometry, plan.warnings)   # told at once: the run may be long
    for text in world:
        if on_warning:
            on_warning(text)
    warnings += plan.warnings + world
    normalization = Normalization.from_json(bundle.meta["normalization"])
    meta, n_c, patch = bundle.meta, bundle.n_classes, bundle.patch_size
    own_tau, own_rule = region_rule(meta)
    tau = own_tau if options.tau is None else options.tau
    rule = options.delta_rule or own_rule
    lam = meta.get("mix_lambda", 0.8) if options.mix_lambda is None else options.mix_lambda
    if options.regions and bundle.mix_reference is None:
        raise ModelError(f"{bundle.path}: bundle has no mix reference image, so no region maps; "
                         "use --no-regions or import with --mix-reference")
    t_prep = time.monotonic()
    norm = prepare_image(image, plan, normalization)
    t_net = time.monotonic()
    ladder = OomLadder(options.batch_size, device, on_warning)
    predict = make_predictor(bundle.model, device, options.backend, patch)
    stats: dict = {}
    mixed_where = near_structure(tau) if options.regions and options.mixed_view == "near" else None
    n_lanes = options.lanes or auto_lanes(device, options.backend, int(meta["architecture"]["n_filters"]), patch)
    with Lanes(n_lanes) as lanes:
        result = sliding_window(predict, norm, patch, n_c, options.window_overlap, options.batch_size, device,
                                progress=progress, mix_reference=bundle.mix_reference if options.regions else None,
                                mix_lambda=lam, mixed_where=mixed_where, ladder=ladder, stats=stats, lanes=lanes,
                                mixed_overlap=options.mixed_window_overlap)
        p_u, p_m = result if options.regions else (result, None)
        del result
        t_scores, c_scores = time.monotonic(), time.process_time()
        distance = feature_distances(bundle, norm, patch, device, warnings) if wants_features(options) \
            else {"feature_distance": None, "feature_knn": None}
        t_feat, c_feat = time.monotonic(), time.process_time()
        views = (labels_by_slab(p_u), labels_by_slab(p_m)) if p_m is not None else None
        t_tta, c_tta = time.monotonic(), time.process_time()
        tta_labels = tta_predictions(predict, norm, patch, n_c, options, device, lanes, views, p_u)
        t_back, c_back = time.monotonic(), time.process_time()
    score_seconds, score_cpu = t_tta - t_scores, c_tta - c_scores
    warnings += ladder.warnings
    device = ladder.device
    del norm
    label, entropy, regions = finish_maps(plan, p_u, p_m, tau, rule)
    del p_u, p_m
    network_maps = {}
    if views is not None:
        network_maps["view_disagreement"] = views[0] != views[1]
    if tta_labels:
        network_maps["tta_votes"] = sum((t != tta_labels[0]).astype(np.uint8) for t in tta_labels[1:])
    plan.info["seconds"] = {"prepare": round(t_net - t_prep, 2), "network": round(t_scores - t_net, 2),
                            "maps": round(time.monotonic() - t_back, 2),
                            "scores": round(score_seconds, 3),
                            **({"tta": round(t_back - t_tta, 2)} if options.tta > 1 else {})}
    plan.info["network"] = {**stats, "backend": getattr(predict, "name", "torch"), "oom_steps": ladder.steps}
    post = options.postprocess or meta.get("postprocess", "none")
    main = largest_component(label > 0)
    n_fg = int(np.count_nonzero(label))
    fragment_share = round(1.0 - int(main.sum()) / n_fg, 4) if n_fg else 0.0  # before any post-processing
    if post == "lcc":
        label = np.where(main, label, 0).astype(np.uint8)
    del main
    t_case, c_case = time.monotonic(), time.process_time()  # on the label the user gets
    case_scores = scores_summary(label, entropy, bundle, views, tta_labels, distance, regions)
    score_seconds += time.monotonic() - t_case
    score_cpu += time.process_time() - c_case
    plan.info["seconds"]["scores"] = round(score_seconds, 3)
    del views, tta_labels
    out = Segmentation(label, regions, entropy, geometry, network_maps=network_maps)
    # what the scores cost beside the segmentation (TTA left out), in CPU seconds too: on a shared machine
    # the wall clock of a 0.02 s step is mostly other processes' turns (benchmarks/trust/failure_detection.py)
    case_scores["cost"] = {"feature_seconds": round(t_feat - t_scores, 4),
                           "cpu": {"scores": round(score_cpu, 4), "features": round(c_feat - c_scores, 4),
                                   "segmentation": round(time.process_time() - c0 - (c_back - c_tta), 4)}}
    out.summary = summarize(out, bundle, options, device, time.monotonic() - t0, tau, rule, lam, warnings)
    out.summary["windows"] = stats["windows_plain"] + stats["windows_mixed"]   # both views, as progress counts
    out.summary["postprocess"] = post
    out.summary["fragment_share"] = fragment_share
    out.summary["scan"] = plan.to_json()
    out.summary["case_scores"] = case_scores
    padding = padding_mask(image) if image.shape == label.shape else None
    out.summary.update(review_fields(label, entropy, regions, geometry, out.summary, meta, padding=padding))
    return out


def wants_features(options: SegmentOptions) -> bool:
    """Whether this run makes the feature pass (``SegmentOptions.feature_distance``)."""
    from .case_flag import reads_features

    return reads_features() if options.feature_distance is None else bool(options.feature_distance)


def feature_distances(bundle: Bundle, norm: np.ndarray, patch, device, warnings: list) -> dict:
    """The scan's feature distances to the model's training cases: ``feature_distance`` (Mahalanobis)
    and ``feature_knn`` (k nearest neighbours), each None where the bundle has no statistics (or none
    with their points, for kNN), or statistics of another network — weights swapped into a bundle
    folder — which a warning says."""
    none = {"feature_distance": None, "feature_knn": None}
    stats = read_feature_stats(bundle.path, bundle.meta)
    if stats is None:
        return none
    features = pooled_features(bundle.model, norm, patch, device, stats.inputs)
    if features.shape != stats.mean.shape:
        warnings.append(f"feature statistics of another network in {bundle.path.name} ({stats.mean.size} features, "
                        f"this network gives {features.size}): no feature distance; run 'sgrs calibrate'")
        return none
    knn = stats.knn_distance(features)
    return {"feature_distance": round(stats.distance(features), 4),
            "feature_knn": None if knn is None else round(knn, 4)}


def tta_predictions(predict, norm, patch, n_c, options, device, lanes, views, p_u) -> list | None:
    """The plain label and each flipped pass's (on the network's grid), for ``--tta N``; None when off."""
    if options.tta <= 1:
        return None
    labels = [views[0] if views is not None else labels_by_slab(p_u)]
    for axes in TTA_FLIPS[:options.tta - 1]:
        flipped = np.ascontiguousarray(np.flip(norm, axes))
        p = sliding_window(predict, flipped, patch, n_c, options.window_overlap, options.batch_size, device,
                           lanes=lanes)
        labels.append(np.ascontiguousarray(np.flip(labels_by_slab(p), axes)))
    return labels


def scores_summary(label, entropy, bundle: Bundle, views, tta_labels, distances: dict, regions=None) -> dict:
    """``summary["case_scores"]``: per structure (by class name) its scores, and the case's feature
    distances (``feature_distances``)."""
    names = {c["value"]: c["name"] for c in bundle.meta["classes"]}
    per = structure_scores(label, entropy, bundle.n_classes, views, tta_labels, regions)
    out = {"structures": {names.get(v, str(v)): s for v, s in per.items()}, **distances}
    if tta_labels:
        out["tta"] = len(tta_labels)
    return out


def near_structure(tau: float):
    """The voxels whose regions the mixed view must decide: the plain view's foreground and its
    voxels of more than half the Δ entropy threshold (a margin, so nothing Δ or foreground after
    the resampling back to the scan's grid is missed)."""
    def where(p_u: torch.Tensor) -> torch.Tensor:
        p = p_u[None]
        return ((class_argmax(p) > 0) | (entropy_log10(p) > tau / 2))[0]
    return where


def keep_largest_component(label: np.ndarray) -> np.ndarray:
    """Zero every foreground voxel outside the largest connected foreground component."""
    keep = largest_component(label > 0)
    return np.where(keep, label, 0).astype(np.uint8)


def spacing_warnings(geometry: Geometry, bundle: Bundle, keep_spacing: bool = False) -> list[str]:
    """The warnings ``segment`` would give about this scan's spacing for this model."""
    return plan_scan(geometry, bundle.meta, keep_spacing=keep_spacing).warnings


def summarize(seg: Segmentation, bundle: Bundle, options, device, seconds, tau, rule, lam, warnings) -> dict:
    voxel_ml = float(np.prod(seg.geometry.spacing)) / 1000.0
    classes = {c["value"]: c["name"] for c in bundle.meta["classes"]}
    counts = np.bincount(seg.label.ravel(), minlength=bundle.n_classes)
    fg = seg.label > 0
    n_fg = int(fg.sum())
    summary = {
        "model": bundle.meta.get("name"), "model_path": str(bundle.path), "device": str(device),
        "seconds": round(seconds, 2), "overlap": options.window_overlap, "fast": options.fast, "size": list(seg.geometry.size),
        "spacing": list(seg.geometry.spacing),
        "classes": {classes.get(v, str(v)): {"value": v, "voxels": int(counts[v]), "ml": round(counts[v] * voxel_ml, 3)}
                    for v in range(1, bundle.n_classes)},
        "foreground_ml": round(n_fg * voxel_ml, 3), "warnings": warnings,
    }
    if seg.regions is not None:
        summary["region_rule"] = {"tau": tau, "delta_rule": rule, "mix_lambda": lam,
                                  "mixed_overlap": options.mixed_window_overlap}
        summary["regions"] = {}
        for value, key in REGION_KEYS.items():
            in_region = seg.regions == value
            in_fg = int((in_region & fg).sum())
            summary["regions"][key] = {
                "name": REGION_NAMES[value], "label_value": value,
                "foreground_ml": round(in_fg * voxel_ml, 3),
                "share_of_foreground": round(in_fg / n_fg, 4) if n_fg else 0.0,
                "volume_ml": round(int(in_region.sum()) * voxel_ml, 3)}
    return summary


def prepare_output(out_dir) -> Path:
    """Create the output folder and prove it writable before any long work."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise SGRSError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None
    return out


def write_outputs(seg: Segmentation, out_dir, png: bool = False, image: np.ndarray | None = None,
                  bundle: Bundle | None = None, extra_files: dict | None = None) -> dict[str, Path]:
    """Each file is written to a temp name and renamed: an existing output is never half-replaced.
    ``extra_files``: {key: file name} already written to ``out_dir`` (the DICOM SEG), listed in the summary."""
    t0 = time.monotonic()
    out = prepare_output(out_dir)
    written = {"label": write_image(seg.label, seg.geometry, out / OUTPUT_FILES["label"]),
               "entropy": write_image(seg.entropy, seg.geometry, out / OUTPUT_FILES["entropy"])}
    if seg.regions is not None:
        written["regions"] = write_image(seg.regions, seg.geometry, out / OUTPUT_FILES["regions"])
    if png and image is not None:
        written["png"] = draw_overview(image, seg, out / OUTPUT_FILES["png"],
                                       title=bundle.meta.get("name") if bundle else None)
    written.update({k: out / name for k, name in (extra_files or {}).items()})
    summary = {**seg.summary, "files": {k: p.name for k, p in written.items()}}
    if "seconds" in summary.get("scan", {}):
        summary["scan"]["seconds"]["write"] = round(time.monotonic() - t0, 2)
    write_text(out / OUTPUT_FILES["summary"], json.dumps(summary, indent=1))
    written["summary"] = out / OUTPUT_FILES["summary"]
    return written


def segment_file(image_path, bundle_path, out_dir, options: SegmentOptions = SegmentOptions(),
                 png: bool = False, progress=None, on_warning=None) -> tuple[Segmentation, dict[str, Path]]:
    """Read, segment, write. Checks the output folder and the bundle before the long work.

    ``summary["scan"]["seconds"]`` splits the time: read, prepare (reorient, normalise, resample),
    network, maps (probabilities back to the scan's grid, label, entropy, regions) and write."""
    prepare_output(out_dir)
    options.check()
    t0 = time.monotonic()
    image, geometry, source = read_scan(image_path, options.series)
    bundle = load_bundle(bundle_path, weights=options.weights)
    read = time.monotonic() - t0
    seg = segment_read(image, geometry, source, bundle, options, progress, where=image_path, on_warning=on_warning)
    seg.summary["scan"]["seconds"] = {"read": round(read, 2), **seg.summary["scan"].get("seconds", {})}  # in order
    return seg, write_outputs(seg, out_dir, png, image, bundle)


def segment_read(image, geometry, source: dict | None, bundle: Bundle, options: SegmentOptions, progress=None,
                 where="", on_warning=None) -> Segmentation:
    """:func:`segment_array` on what :func:`read_scan` returned; the summary names the input and its series."""
    if min(image.shape) < 2:
        raise InputError(f"{where}: image of size {image.shape} is too thin to segment")
    seg = segment_array(image, geometry, bundle, options, progress, on_warning=on_warning)
    seg.summary["input"] = str(where)
    if source is not None:
        seg.summary["scan"]["steps"].insert(0, source.pop("step"))
        seg.summary["scan"]["series"] = source
    return seg
