"""SGRS Studio: the SGRS workflow in a web browser on the real Slicer MRML scene (trame-slicer).

Panels only bind web controls to the Libs' session objects (``SGRSSegmentLib``, ``SGRSTrainLib``);
no segmentation or training decision is made here.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The Libs live beside their Slicer modules (SGRSSegment/SGRSSegmentLib, ...), as Slicer expects.
for lib_parent in (ROOT / "SGRSSegment", ROOT / "SGRSTrain"):
    if str(lib_parent) not in sys.path:
        sys.path.insert(0, str(lib_parent))
