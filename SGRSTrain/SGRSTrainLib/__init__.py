"""SGRSTrain logic over an MRML scene: cohort collection and export, training jobs, ranking."""
from .cohort import SceneCase, collect_cases, export_cohort
from .job import TrainJob, TrainParameters
from .ranking import rank_unlabelled

__all__ = ["SceneCase", "collect_cases", "export_cohort", "TrainJob", "TrainParameters", "rank_unlabelled"]
