"""OpenMP's waiting policy for engine processes.

PyTorch's OpenMP threads spin at every barrier by default. On a CPU shared with other busy
processes (a laptop running other work, a CI machine, a Slicer session) a spinning thread waits
for its partner to be scheduled, and a 2-thread convolution measured 30× slower than with the
threads sleeping while they wait (docs/benchmarks.md, "OpenMP waiting policy"). Engine processes
therefore ask for passive waiting, unless the user set ``OMP_WAIT_POLICY`` themselves. It only
takes effect before the OpenMP runtime starts, that is before torch is imported.
"""
from __future__ import annotations

import os
import sys


def passive_openmp() -> bool:
    """Set OMP_WAIT_POLICY=PASSIVE unless set already; False when torch is already loaded (too late)."""
    if "torch" in sys.modules:
        return False
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return True
