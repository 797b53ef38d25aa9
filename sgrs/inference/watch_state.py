"""``sgrs watch``'s record of what it has seen: one JSON file, written atomically, so a restart resumes.

Per study (by Study Instance UID): the instance count last seen and when it last changed (settling), the
status (``waiting``, ``pushing``, ``done``, ``failed``, ``set aside``, ``skipped``), the source key it was done
with (the chosen series' SOP Instance UIDs, never our own SEG/SR), the tries and when the next may start, and
the SOP Instance UIDs pushed (``pushing`` with them recorded: a crash mid-push is checked on the server, not
pushed again blindly). Nothing here names a patient.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..util.atomic import write_text
from ..util.errors import InputError

STATE = "watch-state.json"
FINISHED = ("done", "set aside", "skipped")


class WatchState:
    def __init__(self, path: Path, since: str | None = None, studies: dict | None = None):
        self.path, self.since, self.studies = Path(path), since, studies or {}

    @classmethod
    def load(cls, folder) -> "WatchState":
        path = Path(folder) / STATE
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text())
            return cls(path, data.get("since"), dict(data.get("studies", {})))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: the watch state cannot be read ({type(exc).__name__}); move it aside to "
                             "start afresh (every study since --since is then looked at again)") from None

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text(self.path, json.dumps({"since": self.since, "studies": self.studies}, indent=1, sort_keys=True))

    def seen(self, uid: str, count: int, now: float) -> tuple[dict, bool]:
        """The study's record, its count brought up to date: (record, whether it is new or changed)."""
        rec = self.studies.get(uid)
        if rec is None:
            rec = self.studies[uid] = {"count": count, "changed": now, "status": "waiting", "tries": 0}
            return rec, True
        if rec["count"] != count:
            rec.update(count=count, changed=now)
            if rec["status"] in FINISHED or rec["status"] == "failed":
                rec.update(status="changed", tries=0, next_try=0)  # looked at again once it settles
            return rec, True
        return rec, False

    def counts(self) -> dict:
        out: dict = {}
        for rec in self.studies.values():
            out[rec["status"]] = out.get(rec["status"], 0) + 1
        return out
