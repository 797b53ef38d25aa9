"""Validate a DICOM file with dicom3tools' ``dciodvfy`` (Debian ``dicom3tools``; ``make test`` installs it).

A SEG passes with 0 errors and only the warnings listed in ALLOWED, each with why it is acceptable
(docs/pacs.md repeats them).
"""
from __future__ import annotations

import re
import shutil
import subprocess

ALLOWED = {
    # dciodvfy knows only the standard's coding schemes: it flags a private one (99SGRS, declared in the SEG's
    # CodingSchemeIdentificationSequence) and any private scheme the source series itself uses (SECTRA here)
    r"Unrecognized defined term <(99SGRS|SECTRA)> for value 1 of attribute <Coding Scheme Designator>",
    # the source CT of the tests (TotalSegmentator's anonymised example) has no StudyID/date/time/accession:
    # the SEG copies the study's attributes as they are
    r"Missing attribute or value that would be needed to build DICOMDIR - Study (Date|Time|ID)",
    r"Value is zero for value 1 of attribute <Study ID>",
}


def available() -> str | None:
    return None if shutil.which("dciodvfy") else "dciodvfy is missing (apt-get install dicom3tools; make test does it)"


def validate(path) -> tuple[list[str], list[str], str]:
    """(errors, warnings not in ALLOWED, full output) for one file."""
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    text = done.stdout + done.stderr
    errors = [line for line in text.splitlines() if line.startswith("Error")]
    warnings = [line for line in text.splitlines() if line.startswith("Warning")
                and not any(re.search(p, line) for p in ALLOWED)]
    return errors, warnings, text


def assert_valid(path) -> str:
    """Fail the test on any dciodvfy error or undocumented warning; the full output otherwise."""
    why = available()
    assert why is None, why
    errors, warnings, text = validate(path)
    assert not errors and not warnings, f"dciodvfy {path}:\n{text}"
    return text
