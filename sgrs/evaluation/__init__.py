"""Metrics as medpy defines them (``metrics``) and folder-level evaluation (``evaluate``)."""
