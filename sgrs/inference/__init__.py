"""Whole-volume inference: sliding windows, region maps, segmentation outputs."""
