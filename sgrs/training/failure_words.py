"""A training job's end in a GUI's words: the engine's failure reasons are written for ``sgrs train``
(its flags, absolute paths); a GUI user can set neither, so the GUIs show them through here.

    gui_reason(reason)   # one line without command-line flags or absolute paths
    repeats(reason)      # True: resuming would fail the same way (the cohort or the model is wrong)
"""
from __future__ import annotations

import re

# (engine reason pattern, the GUI's words): the cohort errors of sgrs.data.cohort a GUI can cause
KNOWN = (
    (r"no unlabelled case left for semi-supervised training",
     "every case is labelled, and the chosen method also learns from unlabelled cases: load unlabelled scans, "
     "or choose the 'supervised' method."),
    (r"no labelled case",
     "no labelled case: segment at least one case (or mark a model result reviewed), then train again."),
    (r"empty cohort", "the cohort has no case to train on."),
    (r"asked for (\d+) labelled cases but only (\d+)", "only {1} cases have a label."),
    (r"cohort not found", "cohort not found: choose the cohort folder again."),
)
# reasons a resume would meet again: the cohort or the base model is wrong, not the run
REPEATS = ("cohort", "manifest", "labelled case", "label lacks", "marked absent", "classes", "no train cases",
           "not a valid", "model.json", "no h5 file", "NaN/Inf", "3D volume")

_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/][^\s:'\"()]*")   # an absolute path (POSIX or Windows)
_FLAGS = re.compile(r"\s*\((?:[^()]*\s)?--[a-z][^()]*\)")


def gui_reason(reason: str | None) -> str:
    """The engine's failure reason as a GUI says it; unknown reasons keep their words, with paths cut to the
    file's name and hints that name command-line flags left out."""
    text = (reason or "").strip() or "the engine stopped without a reason"
    for pattern, words in KNOWN:
        found = re.search(pattern, text)
        if found:
            return words.format(*found.groups())
    text = _FLAGS.sub("", text)
    return _PATH.sub(lambda m: re.split(r"[\\\\/]", m.group(0).rstrip("\\/"))[-1], text)


def repeats(reason: str | None) -> bool:
    """Whether resuming the failed job would fail the same way."""
    return any(word.lower() in (reason or "").lower() for word in REPEATS)
