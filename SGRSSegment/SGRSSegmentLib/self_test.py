"""The module's self-test body, shared by Slicer's ScriptedLoadableModuleTest and the tests here."""
from __future__ import annotations

import time


def segment_demo(scene, load_volume, python=None, idle=None, timeout: float = 600.0):
    """Load the demo phantom with ``load_volume(path)`` (Slicer: slicer.util.loadVolume) and run a
    SegmentSession on it with the bundled demo model to the end; returns the session."""
    from sgrs.models.registry import DEMO_MODEL

    from .parameters import SegmentParameters
    from .sample_data import DEMO_IMAGE
    from .session import SegmentSession
    session = SegmentSession(scene, python=python)
    session.start(SegmentParameters(volume=load_volume(str(DEMO_IMAGE)), model=str(DEMO_MODEL), device="cpu"))
    end = time.monotonic() + timeout
    while session.poll() == "running" and time.monotonic() < end:
        time.sleep(0.2)
        if idle:
            idle()  # Slicer: slicer.app.processEvents
    session.close()
    return session
