"""``sgrs segment`` and ``sgrs evaluate``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .inference.defaults import DEFAULT_OVERLAP, FAST_OVERLAP, MIXED_OVERLAP
from .method.names import DEFAULT_RANK_SCORE, DELTA_RULES, RANK_SCORES
from .models.registry import MODEL_HELP, model_argument


def _segment(args) -> int:
    from .inference.batch import BatchOutputs
    from .inference.cases import collect_cases
    from .inference.segment import SegmentOptions

    options = SegmentOptions(overlap=args.overlap, regions=args.regions, delta_rule=args.delta_rule,
                             tau=args.tau, device=args.device, weights=args.weights, batch_size=args.batch,
                             postprocess=args.postprocess, keep_spacing=args.keep_spacing,
                             interpolation=args.interpolation, roi=_roi(args), series=args.series,
                             fast=args.fast, mixed_view=args.mixed_view, mixed_overlap=args.mixed_overlap,
                             backend=args.backend, lanes=args.lanes, tta=args.tta,
                             feature_distance=True if args.feature_distance else None)
    outputs = BatchOutputs(png=args.png, dicom_seg=args.dicom_seg or args.push, push=args.push,
                           series_number=args.series_number, hold_failed=args.hold_failed)
    cases, batch = collect_cases(args.inputs)
    if batch:
        return _segment_batch(args, cases, options, outputs)
    return _segment_one(args, cases[0], options, outputs)


def _reporter(args):
    from .util.progress import append_json, emit_json

    def report(record):
        if args.progress_file:  # a GUI reads this file: no pipe between us, nothing lost when it goes away
            append_json(args.progress_file, record)
        if args.json_progress:
            emit_json(record)
    return report


def _segment_one(args, case, options, outputs) -> int:
    from .inference.batch import segment_one
    from .util.progress import ProgressBar

    quiet = args.json_progress or args.progress_file
    bar = ProgressBar(1, "segment", enabled=not quiet)
    report = _reporter(args)

    on_bar = window_bar(bar)

    def progress(step):   # a WindowProgress: both views' windows
        if quiet:
            report({"event": "progress", "stage": "windows", **step.to_json()})
        else:
            on_bar(step)

    told = []

    def warn(text):  # at once, on the status line and in the progress file; the summary keeps them too
        told.append(text)
        print(f"\nsgrs: warning: {text}", file=sys.stderr, flush=True)
        if quiet:
            report({"event": "warning", "message": text})

    from .inference.batch import SegNotWritten

    try:
        summary = segment_one(case, args.out, args.model, options, outputs, progress, on_warning=warn)
    except SegNotWritten:
        bar.close()
        raise
    bar.close()
    files = {**{k: Path(args.out) / name for k, name in summary["files"].items()},
             "summary": Path(args.out) / "summary.json"}
    for warning in summary.get("warnings", []):
        if warning not in told:
            print(f"sgrs: warning: {warning}", file=sys.stderr)
    if quiet:
        report({"event": "finished", "summary": summary, "files": {k: str(v) for k, v in files.items()}})
    if not args.json_progress:
        print(describe(summary, files))
    return 0


def window_bar(bar):
    """The progress callback that shows a segmentation's WindowProgress on a ProgressBar: the count
    over both views, the view being computed, and "up to" while the mixed view's windows are unknown."""
    def update(step):
        bar.total = step.total
        bar.update(step.done, step.view if step.count.mixed_known else f"{step.view}, total up to {step.total}")
    return update


def _rank(args) -> int:
    from .inference.rank import case_list, describe, rank_cases, to_json
    from .util.atomic import write_text
    from .util.progress import append_json

    cases = case_list(args.cases)  # every input checked before the long work

    def progress(done, total):
        if args.progress_file:
            append_json(args.progress_file, {"event": "progress", "stage": "cases", "done": done, "total": total})

    progress(0, len(cases))
    ranked = rank_cases(cases, args.model, args.score, args.device, args.overlap, progress)
    result = to_json(ranked, args.score)
    if args.out:
        write_text(args.out, json.dumps(result, indent=1))
    if args.progress_file:
        append_json(args.progress_file, {"event": "finished", "ranking": result})
    print(json.dumps(result) if args.json else describe(ranked, args.score))
    return 0


def _segment_batch(args, cases, options, outputs) -> int:
    import os

    from .inference.batch import run_batch
    from .util.progress import ProgressBar

    quiet = args.json_progress or args.progress_file
    main_rank = os.environ.get("RANK", "0") == "0"
    bar = ProgressBar(len(cases), "cases", enabled=not quiet and main_rank)
    report = _reporter(args)

    def on_case(done, total, row, eta):
        if quiet:
            report({"event": "case", "case": row["case"], "status": row["status"], "error": row["error"],
                    "done": done, "total": total, "eta_s": round(eta, 1)})
        else:
            bar.total = total
            bar.update(done, f"{row['case'][:24]} {row['status']}", eta=eta)

    result = run_batch(cases, args.model, args.out, options, outputs, on_case=on_case)
    bar.close()
    if not main_rank:
        return 1 if result.failed else 0
    counts = {s: sum(r["status"] == s for r in result.rows) for s in ("done", "failed")}
    for row in result.rows:
        if row.get("pushed"):
            print(f"sgrs: {row['case']}: {row['pushed']}")
    for row in result.failed:
        print(f"sgrs: {row['case']}: failed: {row['error']}", file=sys.stderr)
    if quiet:
        report({"event": "finished", "results": str(result.csv), "cases": len(result.rows), **counts})
    if not args.json_progress:
        print(f"{len(result.rows)} cases: {counts['done']} done, {counts['failed']} failed; results: {result.csv}")
    return 1 if result.failed else 0


def _roi(args):
    from .data.roi import bounds_from_center
    from .util.errors import SGRSError

    if args.roi and (args.roi_center or args.roi_size):
        raise SGRSError("give either --roi or --roi-center with --roi-size, not both")
    if bool(args.roi_center) != bool(args.roi_size):
        raise SGRSError("--roi-center and --roi-size go together")
    if args.roi_center:
        return bounds_from_center(args.roi_center, args.roi_size)
    return tuple(args.roi) if args.roi else None


def describe(summary: dict, files: dict) -> str:
    from .inference.windows import WindowCount

    net = summary.get("scan", {}).get("network") or {}
    count = WindowCount(net["windows_plain"], net["windows_mixed"]) if "windows_plain" in net \
        else WindowCount(summary["windows"])
    lines = [f"segmented {summary.get('input', '')} in {summary['seconds']:.1f} s on {summary['device']}, "
             f"{count.text()}"]
    split = summary.get("scan", {}).get("seconds") or {}
    if split:
        lines.append("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in split.items()))
    lines += [f"  scan: {step}" for step in summary.get("scan", {}).get("steps", [])]
    for name, c in summary["classes"].items():
        lines.append(f"  {name}: {c['ml']:.2f} mL")
    for key, r in summary.get("regions", {}).items():
        lines.append(f"  {r['name']:<18s} {100 * r['share_of_foreground']:5.1f} % of the segmentation "
                     f"({r['foreground_ml']:.2f} mL)")
    if "case_flag" in summary:
        from .inference.case_flag import flag_line
        lines.append("  " + flag_line(summary))
    seg = summary.get("dicom_seg") or {}
    if seg.get("series_uid"):
        lines.append(f"  DICOM SEG: series {seg['series_uid']} (number {seg.get('series_number')})"
                     + (f", stored on {seg['pushed_to']}" if seg.get("pushed_to") else ""))
    elif seg.get("skipped"):
        lines.append(f"  DICOM SEG: none, {seg['skipped']}")
    if (seg.get("sr") or {}).get("series_uid"):
        lines.append(f"  DICOM SR: series {seg['sr']['series_uid']} (number {seg['sr']['series_number']})"
                     + (f", stored on {seg['pushed_to']}" if seg.get("pushed_to") else ""))
    if seg.get("held"):
        lines.append(f"  not pushed: {seg['held']}")
    lines.append("  files: " + ", ".join(str(p) for p in files.values()))
    return "\n".join(lines)


def _series(args) -> int:
    from .data.dicom import NO_UID, choose_series, list_series
    from .util.errors import InputError

    series = list_series(args.folder)
    if not series:
        choose_series(args.folder, listed=series)  # raises the one-line "no DICOM image series" error
    try:
        chosen = choose_series(args.folder, listed=series)[0].uid
    except InputError:
        chosen = None  # nothing segment would read without --series
    if args.json:
        print(json.dumps([{**s.to_json(), "default": s.uid == chosen} for s in series]))
        return 0
    print(f"{len(series)} image series in {args.folder} (* = what segment reads without --series):")
    for s in series:
        size = "×".join(map(str, s.size))
        print(f"{'*' if s.uid == chosen else ' '} {s.uid or NO_UID}  {s.modality or '?':<3s} {size:>13s}  "
              f"{len(s.files):4d} files  {s.description}")
    return 0


def _dicomweb(args) -> int:
    from .data.dicomweb import Reference, list_series, list_studies

    ref = Reference.parse(args.url)
    if ref.study is None:
        rows = list_studies(ref.root, args.modality, args.date)
        text = [f"{len(rows)} studies on {ref.root}:"] + [
            f"  {r['uid']}  {r['date'] or '?':8s}  {','.join(r['modalities']):8s} {r['series']:3d} series  "
            f"{r['patient_id']}  {r['description']}" for r in rows]
    else:
        rows = list_series(ref.root, ref.study)
        text = [f"{len(rows)} series in study {ref.study}:"] + [
            f"  {r['uid']}  {r['modality'] or '?':4s} {r['instances']:5d} instances  {r['description']}" for r in rows]
    print(json.dumps(rows) if args.json else "\n".join(text))
    return 0


def _evaluate(args) -> int:
    from .evaluation.evaluate import evaluate_folders, format_table, match_cases, write_csv

    match = match_cases(args.pred, args.truth)   # nothing to evaluate: one error line, exit 1
    for line in match.lines(args.pred, args.truth):
        print(f"sgrs: warning: {line}", file=sys.stderr)
    rows = evaluate_folders(args.pred, args.truth, args.lcc, match)
    out = write_csv(rows, args.csv or Path(args.pred) / "metrics.csv")
    print(format_table(rows))
    print(f"per-case metrics: {out}")
    if args.json:
        print(json.dumps(rows))
    return 0


def add_inference_commands(sub) -> None:
    sg = sub.add_parser("segment", help="segment a scan or many: label, Δ/Ω/Θ region and entropy maps, summary")
    sg.add_argument("inputs", nargs="+", metavar="INPUT",
                    help="a scan (NRRD, NIfTI, MHA, ... or a DICOM series folder); or, for a batch "
                         "(OUT/<case>/ and OUT/results.csv, resumable): a folder of scans, a cohort manifest, "
                         "a list file (.txt/.list), several inputs, or a DICOMweb study/series URL")
    sg.add_argument("--model", required=True, type=model_argument, help=MODEL_HELP)
    sg.add_argument("--out", required=True, help="output folder")
    sg.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP,
                    help=f"window overlap in [0, 1) (default {DEFAULT_OVERLAP})")
    sg.add_argument("--regions", dest="regions", action="store_true", default=True,
                    help="also the Δ/Ω/Θ region maps, the review list and their figures (default)")
    sg.add_argument("--no-regions", dest="regions", action="store_false", help="label and entropy only (2× faster)")
    sg.add_argument("--delta-rule", choices=list(DELTA_RULES), help="default: the bundle's")
    sg.add_argument("--tau", type=float, help="entropy threshold (default: the bundle's)")
    sg.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    sg.add_argument("--weights", choices=["student", "teacher"], help="default: the bundle's")
    sg.add_argument("--batch", type=int, default=2, help="windows per forward pass")
    sg.add_argument("--postprocess", choices=["none", "lcc"],
                    help="lcc: keep the largest connected component (default: the bundle's)")
    sg.add_argument("--keep-spacing", action="store_true",
                    help="do not resample to the model's spacing (default: resample, and bring the result back)")
    sg.add_argument("--interpolation", choices=["linear", "bspline"], default="linear",
                    help="image resampling (probabilities always come back linearly)")
    sg.add_argument("--roi", type=float, nargs=6, metavar=("XMIN", "YMIN", "ZMIN", "XMAX", "YMAX", "ZMAX"),
                    help="segment only inside these physical LPS bounds (mm, the image's coordinates)")
    sg.add_argument("--roi-center", type=float, nargs=3, metavar=("CX", "CY", "CZ"), help="ROI centre, LPS mm")
    sg.add_argument("--roi-size", type=float, nargs=3, metavar=("SX", "SY", "SZ"), help="ROI size, mm")
    sg.add_argument("--series", metavar="UID", help="DICOM folder: SeriesInstanceUID to read (default: the "
                    "largest 3D image series by voxel count, never a localizer, derived or secondary capture; list "
                    "them with 'sgrs series DIR'; for DICOMweb name the series in the URL)")
    sg.add_argument("--fast", action="store_true",
                    help=f"window overlap {FAST_OVERLAP} instead of --overlap: about 2.5x fewer plain-view windows, a "
                         "small Dice cost (docs/benchmarks.md)")
    sg.add_argument("--mixed-view", choices=["near", "all"], default="near",
                    help="where the region maps' mixed view is computed: near the structure (default; regions "
                         "exact on the segmentation and its uncertain voxels) or all (the full map, slower)")
    sg.add_argument("--mixed-overlap", type=float, default=MIXED_OVERLAP,
                    help=f"window overlap of the region maps' mixed view (default {MIXED_OVERLAP}; never above "
                         "--overlap). The label and the entropy map come from the plain view only; 0.5 gives the "
                         "Δ/Θ maps of the full grid, at 1.4x the windows on a CT (docs/benchmarks.md)")
    sg.add_argument("--backend", choices=["auto", "torch", "openvino"], default="auto",
                    help="network engine: torch (auto) or openvino (CPU only, opt-in: pip install openvino)")
    sg.add_argument("--lanes", type=int, metavar="N",
                    help="windows predicted at once on the CPU, the threads shared out among them (default: 2 for a "
                         "small network on 2 or more threads, else 1; docs/benchmarks.md)")
    sg.add_argument("--tta", type=int, default=1, metavar="N",
                    help="flip test-time augmentation for the case flag: N predictions (the scan and N - 1 flipped "
                         "copies, 2-8), their disagreement a case score; N - 1 more plain passes (default 1: off)")
    sg.add_argument("--feature-distance", action="store_true",
                    help="also score how unlike the model's training scans this scan looks (one more encoder pass; "
                         "needs the bundle's feature statistics, sgrs calibrate); made anyway when the case flag "
                         "reads it")
    sg.add_argument("--png", action="store_true", help="also draw overview.png")
    sg.add_argument("--dicom-seg", action="store_true",
                    help="DICOM input: also write label.seg.dcm (classes, Δ and Θ as segments) on the source grid "
                    "and label.sr.dcm (a TID 1500 report: volumes, the case flag and its reasons, the model)")
    sg.add_argument("--push", action="store_true",
                    help="DICOMweb input: store the DICOM SEG back on the server (STOW-RS); implies --dicom-seg")
    sg.add_argument("--hold-failed", action="store_true",
                    help="with --push: a 'likely failed' result is written here but not stored on the server")
    sg.add_argument("--series-number", type=int, metavar="N",
                    help="the DICOM SEG's SeriesNumber (default: one above the highest in the study)")
    sg.add_argument("--json-progress", action="store_true", help="progress and summary as JSON lines")
    sg.add_argument("--progress-file", help="append progress and the summary as JSON lines to this file")
    sg.set_defaults(func=_segment)

    rk = sub.add_parser("rank", help="rank unlabelled cases by how much an annotation would teach the model")
    rk.add_argument("cases", nargs="+", help="image files, DICOM series folders, folders of images, or a "
                    "cohort manifest (or its folder: the cases without a label)")
    rk.add_argument("--model", required=True, type=model_argument, help=MODEL_HELP)
    rk.add_argument("--score", default=DEFAULT_RANK_SCORE, choices=list(RANK_SCORES),
                    help=f"what to rank by (default {DEFAULT_RANK_SCORE}: the mean entropy over the scan, what "
                    "docs/trust.md measured teaching the model most; delta-theta: the Δ∪Θ share of the predicted "
                    "structure; entropy: the mean entropy over the predicted structure and Δ)")
    rk.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    rk.add_argument("--overlap", type=float, default=FAST_OVERLAP,
                    help=f"window overlap in [0, 1) (default {FAST_OVERLAP}, as segment --fast)")
    rk.add_argument("--out", help="write the ranked list as JSON to this file")
    rk.add_argument("--progress-file", help="append progress and the ranking as JSON lines to this file")
    rk.add_argument("--json", action="store_true", help="print the ranked list as JSON")
    rk.set_defaults(func=_rank)

    dw = sub.add_parser("dicomweb", help="list a DICOMweb server's studies, or a study's series (QIDO-RS)")
    dw.add_argument("url", help="service root (https://host/dicom-web) or a study URL (…/studies/UID)")
    dw.add_argument("--json", action="store_true", help="as one JSON list")
    dw.add_argument("--modality", help="only studies holding this modality (e.g. CT)")
    dw.add_argument("--date", help="only studies of this StudyDate: YYYYMMDD or a range YYYYMMDD-YYYYMMDD "
                    "(either end open)")
    dw.set_defaults(func=_dicomweb)

    se = sub.add_parser("series", help="list the DICOM series of a folder (UID, modality, size, files, description)")
    se.add_argument("folder")
    se.add_argument("--json", action="store_true", help="as one JSON list")
    se.set_defaults(func=_series)

    ev = sub.add_parser("evaluate", help="Dice, Jaccard, HD95, ASD, ASSD of predictions against ground truth")
    ev.add_argument("--pred", required=True, help="folder of ID.nrrd (or ID/label.nrrd) predictions")
    ev.add_argument("--truth", required=True, help="folder of ID.nrrd ground-truth label maps")
    ev.add_argument("--lcc", action="store_true", help="keep the largest connected component of each prediction")
    ev.add_argument("--csv", help="per-case CSV (default PRED/metrics.csv)")
    ev.add_argument("--json", action="store_true", help="also print the rows as JSON")
    ev.set_defaults(func=_evaluate)
