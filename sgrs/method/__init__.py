"""The paper's modules, one file each: Mix Augmentation (``mix``), Synergy Evaluation
(``synergy``), the regional losses (``losses``), the mean teacher (``ema``), one training step
(``step``), the warm-up and learning-rate schedules (``schedule``), the default / paper / released
presets of the options where they differ (``recipes``), and the region-runaway detector
(``runaway``)."""
