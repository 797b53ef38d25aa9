"""Cohorts, intensity normalisation and patch sampling."""
from .cohort import Case, Cohort, load_cohort
from .normalize import Normalization
from .sampler import BatchSampler

__all__ = ["Case", "Cohort", "load_cohort", "Normalization", "BatchSampler"]
