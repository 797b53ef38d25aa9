"""``sgrs watch``: a department's worklist loop on DICOMweb alone (QIDO to find, WADO to read, STOW to push).

Each poll lists the studies since ``since`` (a StudyDate lower bound; after that the state's own record says what
is new or changed: StudyDate is not arrival time). A study is segmented once its instance count has not changed
for ``settle`` seconds, on the series the series rule picks (our own SEG/SR are never images to it), through the
batch's case code; its SEG and SR are written whole, then pushed in one STOW with SIGTERM held off, and the state
records it, so nothing half-written is pushed and nothing is pushed twice. A failing study is tried again with
backoff and set aside after ``tries``; a server that cannot be reached stops the poll, not the loop.
"""
from __future__ import annotations

import json
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..util.errors import InputError, SGRSError
from ..util.redact import one_line, safe_line
from .watch_state import FINISHED, WatchState

SETTLE_S, INTERVAL_S, TRIES, BACKOFF_S, BACKOFF_MAX_S, HEARTBEAT_S = 30.0, 30.0, 3, 30.0, 3600.0, 300.0


class Stop(BaseException):
    """SIGTERM or SIGINT: leave the loop (raised only outside a push)."""


@dataclass
class WatchConfig:
    root: str
    model: Path
    out: Path
    options: object                       # SegmentOptions
    modality: str | None = None
    body_part: str | None = None
    since: str | None = None              # YYYYMMDD; default: today, the first time
    settle: float = SETTLE_S
    interval: float = INTERVAL_S
    tries: int = TRIES
    backoff: float = BACKOFF_S
    heartbeat: float = HEARTBEAT_S
    prune_days: float | None = None
    hold_failed: bool = False
    once: bool = False
    log: object = field(default=None)     # one line at a time; default: stdout


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


class Watcher:
    def __init__(self, config: WatchConfig):
        self.c = config
        self.state = WatchState.load(config.out)
        self.state.since = self.state.since or config.since or datetime.now(timezone.utc).strftime("%Y%m%d")
        self.critical, self.stopping = 0, False
        self.bundle = None
        self.last_poll = "none yet"
        self.server_wait = 0.0

    # -- logging and signals ------------------------------------------------------------------------------
    def log(self, text: str) -> None:
        line = f"{stamp()} {safe_line(text, 500)}"
        (self.c.log or (lambda s: print(s, flush=True)))(line)

    def _signal(self, signum, frame):
        self.stopping = True
        if not self.critical:
            raise Stop()

    @contextmanager
    def held(self):
        """SIGTERM/SIGINT wait until the block is over: a push and its record are never cut in half."""
        self.critical += 1  # nested blocks: the outermost one decides
        try:
            yield
        finally:
            self.critical -= 1
        if self.stopping and not self.critical:
            raise Stop()

    def save(self) -> None:
        with self.held():
            self.state.save()

    # -- the loop -------------------------------------------------------------------------------------------
    def run(self) -> int:
        old = {s: signal.signal(s, self._signal) for s in (signal.SIGTERM, signal.SIGINT)}
        self.log(f"watching {safe_line(self.c.root)}: studies since {self.state.since}"
                 + (f", modality {self.c.modality}" if self.c.modality else "")
                 + (f", body part {self.c.body_part}" if self.c.body_part else "")
                 + f"; settle {self.c.settle:g} s, poll every {self.c.interval:g} s; state {self.state.path}")
        ok = True
        try:
            beat = 0.0
            while True:
                ok = self.poll()
                if self.c.once:
                    self.heartbeat()
                    return 0 if ok else 1
                if time.monotonic() - beat >= self.c.heartbeat:
                    self.heartbeat()
                    beat = time.monotonic()
                self.sleep(self.server_wait if not ok else self.c.interval)
        except Stop:
            self.log("stopped (SIGTERM/SIGINT): state saved; a case cut short is done again at the next start")
            return 0
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.stopping:  # a signal that came during a push that then failed
                raise Stop()
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))

    def heartbeat(self) -> None:
        counts = self.state.counts()
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
        self.log(f"heartbeat: {len(self.state.studies)} studies known ({parts}); last poll {self.last_poll}; "
                 f"rss {rss_mb():.0f} MB")

    def poll(self) -> bool:
        """One pass over the server's studies; False when the server could not be asked (tried again later)."""
        try:
            found = self.find_studies()
        except InputError as exc:
            self.server_wait = min(max(self.server_wait * 2, self.c.backoff / 4, 1.0), BACKOFF_MAX_S)
            self.last_poll = f"failed at {stamp()}"
            later = "" if self.c.once else f", next try in {self.server_wait:g} s"
            self.log(f"poll failed{later}: {one_line(exc)}")
            return False
        self.server_wait = 0.0
        now, dirty = time.time(), False
        for uid, count in found:
            known = uid in self.state.studies
            rec, changed = self.state.seen(uid, count, now)
            dirty = dirty or changed
            if changed and self.c.settle > 0 and rec["status"] in ("waiting", "changed"):
                what = ("grew to" if rec["status"] == "waiting" else "changed:") if known else "new,"
                self.log(f"study {uid}: {what} {count} instance{'s' * (count != 1)}; segmented once it has not "
                         f"grown for {self.c.settle:g} s")
        if dirty:  # a quiet poll writes nothing: weeks of polls, one file
            self.save()
        for uid, _ in found:
            if self.stopping:
                raise Stop()
            rec = self.state.studies[uid]
            if rec["status"] in FINISHED or time.time() - rec["changed"] < self.c.settle:
                continue
            if rec.get("next_try", 0) > time.time():
                continue
            try:
                self.process(uid, rec)
            except ServerDown as exc:
                self.server_wait = max(self.c.backoff / 4, 1.0)
                self.last_poll = f"failed at {stamp()}"
                self.log(f"study {uid}: server lost mid-case, not counted as a try: {exc}")
                return False
        self.prune()
        self.last_poll = f"ok at {stamp()}"
        return True

    def find_studies(self) -> list[tuple[str, int]]:
        from ..data.dicomweb import _pages, _value, connect, talking_to

        filters = {"StudyDate": f"{self.state.since}-"}
        if self.c.modality:
            filters["ModalitiesInStudy"] = self.c.modality.upper()
        client = connect(self.c.root)
        with talking_to(self.c.root, "polling for studies"):
            found = _pages(client.search_for_studies, search_filters=filters,
                           fields=["NumberOfStudyRelatedInstances"])
        counts: dict[str, int] = {}  # one UID listed twice (a PACS keeps studies apart by patient too): summed
        for s in found:
            uid = str(_value(s, "0020000D"))
            counts[uid] = counts.get(uid, 0) + int(_value(s, "00201208", 0) or 0)
        return list(counts.items())

    # -- one study --------------------------------------------------------------------------------------------
    def process(self, uid: str, rec: dict) -> None:
        from .cases import CaseSource, case_id

        case = CaseSource(case_id(uid), f"{self.c.root}/studies/{uid}")
        rec["folder"] = case.id
        t0 = time.monotonic()
        try:
            self._process(uid, rec, case, t0)
        except (SGRSError, RuntimeError, ValueError, OSError, MemoryError) as exc:
            reason = one_line(exc)
            if not self.server_up():
                raise ServerDown(reason) from None
            rec["tries"] = rec.get("tries", 0) + 1
            rec["reason"] = reason
            if rec["tries"] >= self.c.tries:
                rec["status"] = "set aside"
                self.log(f"study {uid}: set aside after {rec['tries']} tries (looked at again only if it changes): "
                         f"{reason}")
            else:
                wait = min(self.c.backoff * 2 ** (rec["tries"] - 1), BACKOFF_MAX_S)
                rec.update(status="failed", next_try=time.time() + wait)
                self.log(f"study {uid}: failed (try {rec['tries']} of {self.c.tries}, next in {wait:g} s): {reason}")
            self.save()

    def _process(self, uid: str, rec: dict, case, t0: float) -> None:
        from .input_key import resolve_input

        if self.c.body_part and not self.has_body_part(uid):
            rec.update(status="skipped", reason=f"no series of body part {self.c.body_part}")
            self.log(f"study {uid}: skipped, {rec['reason']}")
            return self.save()
        resolved = resolve_input(case, self.c.options)
        if rec.get("key") == resolved.key and (rec.get("pushed_ok") or rec.get("held")):
            rec["status"] = "done"  # grew by something else (another SEG, a report): its source is the same
            self.log(f"study {uid}: changed, but not its source series: nothing to do")
            return self.save()
        folder = Path(self.c.out) / case.id
        if rec.get("key") == resolved.key and rec.get("pushed") and self.landed(uid, rec):  # a push cut short
            return self.finish(uid, rec, folder, t0, "found on the server after a stop mid-push")
        summary = self.segment(case, folder, resolved)
        files = [folder / n for n in (summary.get("files", {}).get("dicom_seg"), summary.get("files", {}).get(
            "dicom_sr")) if n]
        from ..data.dicom_seg import flag_word
        from .case_flag import FAILED

        flag = flag_word(summary) or "?"
        if self.c.hold_failed and flag == FAILED:
            rec.update(status="done", key=resolved.key, pushed_ok=False, held=True, flag=flag, pushed=[])
            self.log(f"study {uid}: done in {time.monotonic() - t0:.1f} s, flag '{flag}': kept here, not pushed "
                     "(--hold-failed)")
            return self.save()
        with self.held():  # the push, its record and its log line: all or (before the push) nothing
            self.push(uid, rec, resolved.key, files, flag)
            self.finish(uid, rec, folder, t0, f"{'SEG and SR' if len(files) == 2 else 'SR (empty result)'} pushed")

    def segment(self, case, folder: Path, resolved) -> dict:
        from .batch import _run_case, run_key
        from .dicom_outputs import BatchOutputs

        outputs = BatchOutputs(dicom_seg=True, push=False)  # pushed here, whole, under held()
        if self.bundle is None:
            from ..models.bundle import load_bundle

            self.bundle = (load_bundle(self.c.model, weights=self.c.options.weights),
                           run_key(self.c.model, self.c.options, outputs))
        return _run_case(case, folder, lambda: self.bundle, self.c.options, outputs, resolved=resolved)

    def push(self, uid: str, rec: dict, key: str, files: list, flag: str) -> None:
        import pydicom

        from ..data.dicomweb import store

        uids = [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files]
        rec.update(status="pushing", key=key, pushed=uids, pushed_ok=False, held=False, flag=flag)
        self.save()
        store(self.c.root, files)
        rec.update(pushed_ok=True, count=rec["count"] + len(uids))  # our own instances: no growth
        self.save()

    def finish(self, uid: str, rec: dict, folder: Path, t0: float, what: str) -> None:
        rec.update(status="done", pushed_ok=True, tries=0, done_at=time.time())
        rec.pop("reason", None)
        self.note_push(folder)
        self.save()
        self.log(f"study {uid}: done in {time.monotonic() - t0:.1f} s, flag '{rec.get('flag', '?')}', {what}")

    def note_push(self, folder: Path) -> None:
        from ..util.atomic import write_text

        path = folder / "summary.json"
        try:
            summary = json.loads(path.read_text())
            summary.setdefault("dicom_seg", {})["pushed_to"] = safe_line(self.c.root)
            write_text(path, json.dumps(summary, indent=1))
        except (OSError, ValueError):
            pass  # the state holds the push; the summary is a convenience

    # -- server questions -------------------------------------------------------------------------------------
    def server_up(self) -> bool:
        from ..data.dicomweb import connect, talking_to

        try:
            with talking_to(self.c.root, "checking the server"):
                connect(self.c.root).search_for_studies(limit=1)
            return True
        except InputError:
            return False

    def landed(self, uid: str, rec: dict) -> bool:
        """Whether every instance a stopped push recorded is on the server (then it is not pushed again)."""
        from ..data.dicomweb import connect, talking_to

        client = connect(self.c.root)
        with talking_to(self.c.root, f"checking the push to study {uid}"):
            for sop in rec.get("pushed") or []:
                if not client.search_for_instances(study_instance_uid=uid, search_filters={"SOPInstanceUID": sop}):
                    return False
        return bool(rec.get("pushed"))

    def has_body_part(self, uid: str) -> bool:
        from ..data.dicomweb import _pages, _value, connect, talking_to

        client = connect(self.c.root)
        with talking_to(self.c.root, f"listing the series of study {uid}"):
            series = _pages(client.search_for_series, study_instance_uid=uid, fields=["BodyPartExamined"])
        want = self.c.body_part.strip().upper()
        return any(str(_value(s, "00180015")).strip().upper() == want for s in series)

    # -- housekeeping -------------------------------------------------------------------------------------------
    def prune(self) -> None:
        """Output folders of finished studies older than ``prune_days`` go; their records stay (no redo)."""
        if not self.c.prune_days:
            return
        limit = time.time() - self.c.prune_days * 86400
        gone = 0
        for rec in self.state.studies.values():
            folder = Path(self.c.out) / rec.get("folder", "")
            if rec["status"] in FINISHED and rec.get("folder") and folder.is_dir() and folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
        if gone:
            self.log(f"pruned {gone} output folder(s) older than {self.c.prune_days:g} days")


class ServerDown(SGRSError):
    """The server went away during a case: the case is not the one to blame."""


def watch(config: WatchConfig) -> int:
    if config.once and config.settle > 0:
        print("sgrs watch: note: with --once a study is segmented at the first poll that finds it settled "
              "(--settle 0 takes it at once)", file=sys.stderr)
    return Watcher(config).run()
