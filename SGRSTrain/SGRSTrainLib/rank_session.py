"""The background ranking every GUI drives (desktop and Studio), and the cases table it fills.

    ranking = RankSession(model, device="auto", score=None, python=None)   # sgrs rank, detached
    ranking.start(cases); ranking.poll() -> state; ranking.progress; ranking.results; ranking.cancel()
    case_rows(cases, ranking.order(cases))   # the rows of the cases table
    row_tips(row)                            # their tooltips: the flag's words (what it means, how often right)

``python`` is the interpreter or launcher that runs the engine (Slicer: ``shutil.which("PythonSlicer")``).
Nothing here imports qt; creating a session never imports torch.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from SGRSSegmentLib.i18n import translate
from sgrs.util.errors import SGRSError

from .states import CANCELLED, DONE, FAILED, IDLE, RUNNING


def case_rows(cases, ranked: dict) -> list[tuple[str, str, str, str, str, str]]:
    """The cases table: rank, name, state (SGRSTrainLib.case_state), score, case flag and note, the ranked
    ones as ``sgrs rank`` prints them (``sgrs.inference.rank.rank_rows``: a case flagged likely failed is not
    suggested and says why); blank until ranked. ``ranked``: {volume ID: Ranked} in the ranking's
    order (``RankSession.order``)."""
    from sgrs.inference.rank import rank_rows

    from .case_state import case_state, state_text, with_result

    shown = dict(zip(ranked, rank_rows(ranked.values(), name=lambda r: r.case.volume.GetName())))
    scene = cases[0].volume.GetScene() if cases else None
    results = with_result(scene) if scene is not None else set()
    rows = []
    for c in cases:
        r = shown.get(c.volume.GetID())
        state = case_state(bool(c.labelled), c.volume.GetID() in results, False)
        rows.append(("" if r is None else r.rank, c.volume.GetName(), state_text(state),
                     *(("", "", "") if r is None else (r.score, r.flag, r.note))))
    return rows


FLAG_COLUMN = 4   # case_rows: rank, name, state, score, case flag, note


def row_tips(row) -> tuple:
    """A case_rows row's tooltips: the flag cell's is the engine's ``flag_tooltip``, the others ''."""
    from sgrs.inference.flag_words import flag_tooltip

    return tuple(flag_tooltip(text) if col == FLAG_COLUMN else "" for col, text in enumerate(row))


class RankSession:
    """Rank the unlabelled cases with ``sgrs rank`` in a detached engine process, exactly as a
    segmentation runs: Slicer never releases the GIL while its GUI is idle, so torch in a thread of
    Slicer's own process only advanced while GUI Python ran (issue 14, item 6). The work folder
    (cases, progress.jsonl, ranking.json, rank.log) is the only channel and is removed at the end."""

    def __init__(self, model: str, device: str = "auto", overlap: float = 0.25, score: str | None = None,
                 python=None):
        from sgrs.method.names import DEFAULT_RANK_SCORE
        self.model, self.device, self.overlap, self.python = model, device, overlap, python
        self.score = score or DEFAULT_RANK_SCORE
        self.state, self.progress, self.message, self.results = IDLE, (0, 0), "", []
        self.process, self.work, self._cases, self._offset = None, None, [], 0

    def start(self, cases) -> None:
        import tempfile

        from SGRSSegmentLib.dependencies import require

        from .ranking import export_unlabelled
        if self.state == RUNNING:
            raise SGRSError("Ranking is running: cancel it first.")
        if not self.model:
            raise SGRSError("Pick a model to rank with.")
        from sgrs.method.names import DEVICES
        if self.device not in DEVICES:  # e.g. from a scene saved by another version
            raise SGRSError(f"Unknown device '{self.device}': choose one of {', '.join(DEVICES)}.")
        require("Ranking")  # psutil and torch: the engine process and its cancel
        from sgrs.util.background import BackgroundProcess
        work = Path(tempfile.mkdtemp(prefix="sgrs-rank-"))
        try:
            paths = export_unlabelled(cases, work / "cases")  # MRML is read here, in the GUI thread
            args = ["rank", *paths, "--model", self.model, "--score", self.score, "--device", self.device,
                    "--overlap", self.overlap, "--out", work / "ranking.json", "--progress-file", work / "progress.jsonl"]
            self.process = BackgroundProcess(args, work, self.python, name="rank").start()
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        self.work, self._cases, self._offset = work, list(cases), 0
        self.state, self.progress, self.results = RUNNING, (0, len(paths)), []
        self.message = translate("SGRSTrain", "Ranking {n} unlabelled cases…").format(n=len(paths))
        self._started = time.monotonic()

    def _time_left(self) -> str:
        """" about 2 min left" from the pace so far; empty before the first case is done."""
        from sgrs.util.progress import format_seconds
        done, total = self.progress
        if not done:
            return ""
        return f" about {format_seconds((time.monotonic() - self._started) / done * (total - done))} left"

    def poll(self) -> str:
        if self.state != RUNNING:
            return self.state
        from SGRSSegmentLib.job import read_progress
        events, self._offset = read_progress(self.work / "progress.jsonl", self._offset)
        for event in events:
            if event.get("event") == "progress":
                self.progress = (event["done"], event["total"])
        if self.process.running:
            self.message = translate("SGRSTrain", "Ranking: {done} of {total} cases…").format(
                done=self.progress[0], total=self.progress[1]) + self._time_left()
            return self.state
        self._finish()
        return self.state

    def _finish(self) -> None:
        from .ranking import read_ranking
        try:
            ranking = json.loads((self.work / "ranking.json").read_text()) if self.process.returncode == 0 else None
        except (OSError, ValueError):
            ranking = None
        if ranking is None:
            self.state = FAILED
            self.message = translate("SGRSTrain", "Ranking failed: {reason}").format(
                reason=self.process.error_message())
        else:
            self.results = read_ranking(ranking, self._cases)
            self.state = DONE
            self.message = translate(
                "SGRSTrain", "Ranked {n} unlabelled cases: the most worth annotating first.").format(
                n=len(self.results))
        self._cleanup()

    def order(self, cases) -> dict:
        """Sort ``cases`` in place, the most worth annotating first; returns {volume ID: Ranked}."""
        rank = {r.case.volume.GetID(): i for i, r in enumerate(self.results)}
        cases.sort(key=lambda c: rank.get(c.volume.GetID(), -1))
        return {r.case.volume.GetID(): r for r in self.results}

    def cancel(self) -> None:
        """Stop the engine's whole process tree now (nothing to save)."""
        if self.state == RUNNING:
            self.process.cancel(grace=0)
            self.state, self.message, self.results = CANCELLED, "Ranking cancelled.", []
            self._cleanup()

    def close(self) -> None:
        """Widget cleanup and scene close: cancel; never raises."""
        try:
            self.cancel()
        except Exception:  # noqa: BLE001  cleanup must never raise
            self.state = CANCELLED

    def _cleanup(self) -> None:
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)
        self.work = None
