"""SGRSSegment logic over an MRML scene: slicer + vtk + sgrs, never qt.

Importing this package is cheap and never reaches torch (a fresh Slicer has none until the user
installs it): the names below load on first use. ``SGRSSegmentLib.dependencies`` checks and installs.
GUIs drive ``SGRSSegmentLib.session.SegmentSession``.
"""
_LAZY = {"SegmentParameters": "logic", "SegmentResult": "logic", "SGRSSegmentLogic": "logic",
         "SegmentSession": "session"}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
