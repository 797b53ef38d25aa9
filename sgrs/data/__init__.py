"""Data: image I/O at the engine's boundary (``image_io``), cohorts (``cohort``), intensity
normalisation (``normalize``), patch sampling (``sampler``) and synthetic phantoms (``phantom``).

Import the modules themselves; this package imports nothing, so reading an image never pulls in torch.
"""
