"""sgrs — SGRS-Net: semi-supervised 3D segmentation with synergy-guided regional supervision.

The engine: torch, numpy and SimpleITK only. Arrays are (x, y, z); see :mod:`sgrs.io`.
"""
__version__ = "0.1.0"
