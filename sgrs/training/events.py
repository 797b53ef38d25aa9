"""Reading a job's ``progress.jsonl`` without torch (GUIs poll it many times a second)."""
from __future__ import annotations

import json
from pathlib import Path

TERMINAL_EVENTS = ("finished", "cancelled", "failed")


def read_events(path) -> list[dict]:
    """All complete events of a progress.jsonl (a truncated or garbled line is skipped)."""
    path = Path(path)
    if path.is_dir():
        path = path / "progress.jsonl"
    events = []
    if not path.exists():
        return events
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "event" in record:
            events.append(record)
    return events
