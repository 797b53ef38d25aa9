"""SGRSTrain logic over an MRML scene: cohort collection and export, training jobs, ranking.

Importing this package is cheap and never reaches torch; the names below load on first use.
GUIs drive ``SGRSTrainLib.session.TrainSession`` and ``SGRSTrainLib.rank_session.RankSession``.
"""
_LAZY = {"SceneCase": "cohort", "collect_cases": "cohort", "export_cohort": "cohort",
         "TrainJob": "job", "TrainParameters": "job", "JobStatus": "job", "rank_unlabelled": "ranking",
         "TrainSession": "session", "RankSession": "rank_session", "DecisionView": "decision_view",
         "DecisionPanel": "decision_view", "ClassPanel": "class_panel"}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
