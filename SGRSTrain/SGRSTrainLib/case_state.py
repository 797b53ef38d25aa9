"""Each case is in exactly one state, shown in the same words by every panel (the Studio's Data and
Annotate panels, SGRS Train's case table):

    no result               nothing segmented or painted yet
    model result (a guess)  the model's untouched segmentation: not trained on
    being edited            an annotation opened for editing that does not count as a label yet
    reviewed (a label)      a segmentation that counts as a label (SGRSSegmentLib.labels): trained on

    states = case_states(scene, editing=node)   # {volume ID: state}; ``editing``: the segmentation open in an
                                                # editor, if any
"""
from __future__ import annotations

from SGRSSegmentLib.i18n import translate
from SGRSSegmentLib.labels import is_empty, is_generated
from SGRSSegmentLib.scene_nodes import nodes_of_class

from .cohort import REFERENCE_ROLE, collect_cases

NO_RESULT, MODEL_RESULT, EDITING, REVIEWED = "no result", "model result (a guess)", "being edited", \
    "reviewed (a label)"
STATES = (NO_RESULT, MODEL_RESULT, EDITING, REVIEWED)


def case_state(labelled: bool, has_result: bool, editing: bool) -> str:
    """The one state: a label wins, then an open editor, then the model's result."""
    if labelled:
        return REVIEWED
    if editing:
        return EDITING
    return MODEL_RESULT if has_result else NO_RESULT


def with_result(scene) -> set:
    """IDs of the volumes with a model result (an SGRS Segment segmentation that is not empty)."""
    found = set()
    for seg in nodes_of_class(scene, "vtkMRMLSegmentationNode"):
        ref = seg.GetNodeReference(REFERENCE_ROLE)
        if ref is not None and is_generated(seg) and not is_empty(seg):
            found.add(ref.GetID())
    return found


def case_states(scene, editing=None) -> dict:
    """{volume ID: state} for the cases of ``collect_cases``."""
    results = with_result(scene)
    edited = editing.GetNodeReference(REFERENCE_ROLE) if editing is not None else None
    return {c.volume.GetID(): case_state(c.labelled, c.volume.GetID() in results,
                                         edited is not None and edited.GetID() == c.volume.GetID())
            for c in collect_cases(scene)}


def state_text(state: str) -> str:
    """The state in the GUI's language (each a literal, for lupdate)."""
    return {NO_RESULT: translate("SGRSTrain", "no result"),
            MODEL_RESULT: translate("SGRSTrain", "model result (a guess)"),
            EDITING: translate("SGRSTrain", "being edited"),
            REVIEWED: translate("SGRSTrain", "reviewed (a label)")}[state]
