"""Slicer calls of this Lib whose availability differs between Slicer 5.8 and the newest release.

SGRSTrain binds its panel and installs packages exactly as SGRSSegment does, so those calls come from
``SGRSSegmentLib.compat`` (one implementation, its sources cited there). Its own MRML calls (plot chart,
series, view and table nodes, ``ExportSegmentsToLabelmapNode``, ``GetNumberOfNodesByClass`` /
``GetNthNodeByClass``, node references) are declared unchanged in ``Libs/MRML/Core`` and
``Modules/Loadable/Segmentations`` headers at v5.8.1 and main: none needs a branch.
"""
from SGRSSegmentLib.compat import (  # noqa: F401  (re-exported)
    parameter_widgets,
    pip_installer,
    rebind,
)
