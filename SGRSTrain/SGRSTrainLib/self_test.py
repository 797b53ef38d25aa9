"""The module's self-test body: a tiny training job on phantoms, driven through a TrainSession."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path


def train_phantoms(python=None, idle=None, timeout: float = 900.0, work=None):
    from sgrs.data.phantom import write_cohort

    from .job import TrainParameters
    from .session import TrainSession
    work = Path(work or tempfile.mkdtemp(prefix="sgrs-selftest-"))
    manifest = write_cohort(work / "cohort", cases=5, seed=1, val=1, test=0, size=(40, 40, 24))
    session = TrainSession(None, None, work / "jobs", registry=work / "registry", python=python)
    session.start(TrainParameters(cohort=str(manifest), iterations=4, patch=(32, 32, 16), filters=2, labelled=2,
                                  device="cpu"))
    end = time.monotonic() + timeout
    while session.poll() in ("running", "cancelling") and time.monotonic() < end:
        time.sleep(0.5)
        if idle:
            idle()
    return session
