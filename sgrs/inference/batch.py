"""Many scans in one run: the model loaded once, ``OUT/<case>/`` per case and ``OUT/results.csv``.

Resume: a case whose ``summary.json`` carries this run's key (a hash of the bundle's ``model.json``,
which records every weight file's SHA-256, and of every option that changes the outputs), the key of
its input as it is now (a content hash of a file or DICOM folder; for DICOMweb, of the chosen source
series' SOP Instance UIDs, so our own SEG pushed to the study does not count) and whose files are all
there is skipped. A case that fails leaves ``failed.json`` with its one-line reason
and the run goes on. Under ``torchrun`` the cases are dealt out by rank (case i to rank i mod world);
after a barrier every rank reads all cases' files, rank 0 alone writes the CSV.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


from ..util.atomic import write_text
from ..util.errors import SGRSError
from ..util.redact import one_line, safe_line
from .cases import CaseSource
from .dicom_outputs import BatchOutputs, seg_sources, write_seg_and_sr
from .input_key import Resolved, resolve_input

RESULTS = "results.csv"
FAILED = "failed.json"
NOT_RESULT_OPTIONS = ("device", "batch_size")  # change the speed, not the outputs


class SegNotWritten(SGRSError):
    """The outputs are kept; only the DICOM SEG (or its push) failed."""


@dataclass
class BatchReport:
    rows: list[dict] = field(default_factory=list)
    csv: Path | None = None

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == "failed"]


def run_key(bundle_path, options, outputs: BatchOutputs) -> str:
    """Same key ⇔ same model files and same result-changing options: the case need not run again."""
    from ..models.meta import read_meta

    meta = read_meta(bundle_path)
    chosen = {k: v for k, v in asdict(options).items() if k not in NOT_RESULT_OPTIONS}
    text = json.dumps({"model": meta, "options": chosen, "outputs": asdict(outputs)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def done_summary(folder: Path, key: str, input_key: str | None = None) -> dict | None:
    """The case's summary if it was finished with this key, from this input (``input_key``: the input's
    content now) and every file it lists is there, the DICOM SEG included when one was asked for."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    batch = summary.get("batch", {})
    if batch.get("key") != key or (input_key is not None and batch.get("input") != input_key):
        return None
    if summary.get("dicom_seg", {}).get("error"):
        return None
    if not all((folder / name).is_file() for name in summary.get("files", {}).values()):
        return None
    return summary


def _failure(folder: Path, key: str) -> str | None:
    try:
        record = json.loads((folder / FAILED).read_text())
    except (OSError, ValueError):
        return None
    return record.get("error") if record.get("key") == key else None


def _run_case(case: CaseSource, folder: Path, model, options, outputs: BatchOutputs, progress=None,
              on_warning=None, resolved: Resolved | None = None) -> dict:
    """Segment one case into ``folder``; its summary (written last, so a crash leaves no false 'done').
    ``model()`` gives (bundle, run key), called once the scan is read: a batch hands the loaded one,
    a single scan loads it then, so a bad scan is reported before a bad model, as always.
    Only the DICOM SEG failing keeps every other output and raises :class:`SegNotWritten`."""
    from dataclasses import replace

    from ..data.image_io import read_scan
    from .segment import prepare_output, segment_read, write_outputs

    resolved = resolved or resolve_input(case, options)
    prepare_output(folder)
    (folder / FAILED).unlink(missing_ok=True)
    remove_pulled(folder)  # what a killed run left
    t0 = time.monotonic()
    case_options = replace(options, roi=case.roi) if case.roi is not None else options
    with tempfile.TemporaryDirectory(prefix=".pull-", dir=folder) as pulled:
        source = Path(case.source)
        if case.is_url:
            from ..data.dicomweb import Reference, retrieve

            source = retrieve(Reference.parse(case.source), pulled, resolved.series)
            case_options = replace(case_options, series=None)
        # the SEG's sources are checked before the long work, not after it
        datasets = seg_sources(source, case_options, outputs, case) if outputs.dicom_seg else None
        t_read = time.monotonic()
        image, geometry, series = read_scan(source, case_options.series)
        bundle, key = model()
        read = time.monotonic() - t_read
        if case.is_url and series is not None:
            series.update(chosen=resolved.chosen, alternatives=resolved.alternatives,
                          step=f"DICOMweb {resolved.chosen}")
        seg = segment_read(image, geometry, series, bundle, case_options, progress, where=safe_line(case.source),
                           on_warning=on_warning)
        seconds = seg.summary["scan"].get("seconds", {})
        seg.summary["scan"]["seconds"] = {"read": round(read, 2), **seconds}  # in the order they ran
        extra = {}
        if datasets is not None:
            extra["dicom_seg"] = write_seg_and_sr(seg, datasets, bundle, folder, outputs, case, source, case_options)
            note = extra["dicom_seg"].get("skipped") or extra["dicom_seg"].get("error")
            if note:
                seg.summary["warnings"].append(note)
                if on_warning and "skipped" in extra["dicom_seg"]:
                    on_warning(note)
    seg.summary["batch"] = {"key": key, "input": resolved.key, "case": case.id,
                            "seconds": round(time.monotonic() - t0, 2)}
    seg.summary.update(extra)
    written = write_outputs(seg, folder, outputs.png, image, bundle, extra_files=_extra_files(extra))
    summary = json.loads(written["summary"].read_text())
    if extra.get("dicom_seg", {}).get("error"):
        raise SegNotWritten(f"outputs kept in {folder}; {extra['dicom_seg']['error']}")
    return summary


def _extra_files(extra: dict) -> dict:
    info = extra.get("dicom_seg", {})
    files = {"dicom_seg": Path(info["file"]).name} if info.get("file") else {}
    if (info.get("sr") or {}).get("file"):
        files["dicom_sr"] = Path(info["sr"]["file"]).name
    return files


def columns(meta: dict) -> list[str]:
    names = [c["name"] for c in sorted(meta["classes"], key=lambda c: c["value"]) if c["value"] != 0]
    return (["case", "status", "seconds"] + [f"{n} mL" for n in names]
            + ["delta_share", "theta_share", "case_flag", "case_flag_reasons", "warnings", "error", "source"])


def row_for(case: CaseSource, status: str, summary: dict | None, error: str = "") -> dict:
    row = {"case": case.id, "status": status, "source": safe_line(case.source, 2000), "error": safe_line(error)}
    if summary:
        row["seconds"] = summary.get("batch", {}).get("seconds", summary.get("seconds"))
        for name, c in summary.get("classes", {}).items():
            row[f"{name} mL"] = c.get("ml")
        regions = summary.get("regions", {})
        for key in ("delta", "theta"):
            if key in regions:
                row[f"{key}_share"] = regions[key].get("share_of_foreground")
        row["case_flag"] = summary.get("case_flag", "")
        row["case_flag_reasons"] = "; ".join(summary.get("case_flag_reasons") or [])
        row["warnings"] = " | ".join(summary.get("warnings") or [])   # a warning may hold "; " itself
        seg = summary.get("dicom_seg", {})
        if seg.get("pushed_to"):
            what = f"SEG series {seg['series_uid']} and SR" if seg.get("series_uid") else "SR (no SEG: empty result)"
            row["pushed"] = f"{what} stored on {seg['pushed_to']}"
        elif seg.get("held"):
            row["pushed"] = seg["held"]
    return row


def write_results(rows: list[dict], names: list[str], path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())
    return path


def _resolve(options, dist):
    """Under torchrun on GPUs each rank takes its own device."""
    from dataclasses import replace

    from ..util.device import resolve_device

    device = resolve_device(options.device)
    if dist.enabled and device.type == "cuda":
        return replace(options, device=f"cuda:{dist.local_rank}")
    return options


def run_batch(cases: list[CaseSource], bundle_path, out, options, outputs: BatchOutputs = BatchOutputs(),
              on_case=None, window_progress=None) -> BatchReport:
    """Segment every case; ``on_case(done, total, row, eta_s)`` after each of this rank's cases."""
    from ..models.bundle import load_bundle
    from ..training import distributed
    from .segment import prepare_output

    out = prepare_output(out)
    options.check()
    dist = distributed.setup(_device_type(options.device))
    try:
        options = _resolve(options, dist)
        key = run_key(bundle_path, options, outputs)
        bundle = load_bundle(bundle_path, weights=options.weights)
        mine = cases[dist.rank::dist.world]
        spent, ran = 0.0, 0
        ran_rows: dict[str, dict] = {}
        for i, case in enumerate(mine):
            folder = out / case.id
            t0 = time.monotonic()
            try:
                resolved = resolve_input(case, options)
                summary = done_summary(folder, key, resolved.key)
                if summary is not None:
                    row = row_for(case, "skipped", summary)
                else:
                    row = row_for(case, "done", _run_case(case, folder, lambda: (bundle, key), options, outputs,
                                                          window_progress, resolved=resolved))
            except (SGRSError, RuntimeError, ValueError, OSError, MemoryError) as exc:
                error = one_line(exc)
                _record_failure(folder, case, key, error)
                row = row_for(case, "failed", None, error)
            if row["status"] != "skipped":
                spent, ran = spent + time.monotonic() - t0, ran + 1
            ran_rows[case.id] = row
            if on_case:
                left = len(mine) - i - 1
                on_case(i + 1, len(mine), row, spent / ran * left if ran else 0.0)
        if dist.enabled:
            import torch.distributed as tdist

            tdist.barrier()
        return _gather(cases, out, key, columns(bundle.meta), dist.is_main, ran_rows)
    finally:
        distributed.teardown(dist)


def _device_type(name: str) -> str:
    from ..util.device import resolve_device

    return resolve_device(name).type


def _record_failure(folder: Path, case: CaseSource, key: str, error: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / FAILED, json.dumps({"case": case.id, "source": safe_line(case.source, 2000), "key": key,
                                                "error": safe_line(error)}))
    except OSError:
        pass  # the row still says why; the output folder itself may be what failed


def _gather(cases, out: Path, key: str, names: list[str], write: bool, ran: dict | None = None) -> BatchReport:
    """Every case's row: this rank's from what it saw, the others' from their files (another rank ran them)."""
    rows = []
    for case in cases:
        if ran and case.id in ran:
            row = dict(ran[case.id])
            rows.append({**row, "status": "done"} if row["status"] == "skipped" else row)
            continue
        folder = out / case.id
        error = _failure(folder, key)
        summary = None if error is not None else done_summary(folder, key)
        if error is not None:
            rows.append(row_for(case, "failed", None, error))
        elif summary is not None:
            rows.append(row_for(case, "done", summary))
        else:
            rows.append(row_for(case, "failed", None, "no result (the run stopped before this case)"))
    report = BatchReport(rows)
    if write:
        report.csv = write_results(rows, names, out / RESULTS)
    return report


def segment_one(case: CaseSource, out, bundle_path, options, outputs: BatchOutputs = BatchOutputs(),
                progress=None, on_warning=None) -> dict:
    """One scan straight into ``out`` (no CSV, always run): the single-scan ``sgrs segment``."""
    from ..models.bundle import load_bundle
    from .segment import prepare_output

    out = Path(out)
    existed = out.exists()
    try:
        options.check()
        resolved = resolve_input(case, options)
        prepare_output(out)

        def model():
            bundle = load_bundle(bundle_path, weights=options.weights)
            return bundle, run_key(bundle_path, options, outputs)

        return _run_case(case, out, model, options, outputs, progress, on_warning, resolved)
    except BaseException:
        if not existed and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # refused before any output: leave no empty folder behind
        raise


def remove_pulled(folder: Path) -> None:
    for stale in folder.glob(".pull-*"):
        shutil.rmtree(stale, ignore_errors=True)
