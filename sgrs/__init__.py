"""sgrs — SGRS-Net: semi-supervised 3D segmentation with synergy-guided regional supervision.

The engine: torch, numpy and SimpleITK only. Arrays are (x, y, z); see :mod:`sgrs.data.image_io`.

Layout by role: ``method`` (the paper's modules), ``training``, ``models``, ``data``,
``inference``, ``evaluation``, ``util``. The main entry points are re-exported lazily here, so
``import sgrs`` stays cheap (no torch) until one of them is used::

    from sgrs import TrainConfig, train, segment_file, SegmentOptions, load_bundle
"""
__version__ = "0.1.0"

_EXPORTS = {
    "train": "sgrs.training.loop", "TrainConfig": "sgrs.training.config",
    "segment_file": "sgrs.inference.segment", "segment_array": "sgrs.inference.segment",
    "SegmentOptions": "sgrs.inference.segment", "load_bundle": "sgrs.models.bundle",
    "SGRSError": "sgrs.util.errors",
}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sgrs' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
