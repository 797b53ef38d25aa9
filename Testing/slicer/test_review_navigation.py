"""Next / Previous uncertain region (issue 15, item 2) on a real MRML scene: the Lib's navigator walks
the engine's review list, centres every slice view on each region and says where it is ("2 of 3");
the SGRS Train ranking carries the case flag into its table."""
import numpy as np
import pytest
import slicer

from SGRSSegmentLib.review_navigation import ReviewNavigator, lps_to_ras
from SGRSSegmentLib.session import done_message


def slice_views(scene):
    views = []
    for name, orientation in (("Red", "Axial"), ("Yellow", "Sagittal"), ("Green", "Coronal")):
        node = slicer.vtkMRMLSliceNode()
        node.SetName(name)
        node.SetLayoutName(name)
        node.SetOrientation(orientation)
        scene.AddNode(node)
        views.append(node)
    return views


def centre_of(node):
    m = node.GetSliceToRAS()
    return np.array([m.GetElement(r, 3) for r in range(3)])


SUMMARY = {"case_flag": "review", "case_flag_reasons": ["expected wrong voxels: 24 % of the structure's size"],
           "review_regions": [
               {"rank": 1, "centre_lps": [10.0, -20.0, 30.0], "bounds_lps": [8, -22, 28, 12, -18, 32], "volume_ml": 0.5,
                "expected_error_ml": 0.2, "reason": "uncertain (Δ), at the segmentation's border", "voxels": 250},
               {"rank": 2, "centre_lps": [-40.5, 5.0, -7.25], "bounds_lps": [-42, 3, -9, -39, 7, -5], "volume_ml": 0.2,
                "expected_error_ml": 0.1, "reason": "high entropy, outside the segmentation: possible missed structure",
                "voxels": 100},
               {"rank": 3, "centre_lps": [0.0, 0.0, 0.0], "bounds_lps": [-1, -1, -1, 1, 1, 1], "volume_ml": 0.01,
                "expected_error_ml": 0.005, "reason": "high entropy, inside the segmentation: possible false positive",
                "voxels": 8}]}


def test_next_and_previous_centre_every_slice_view_on_the_region(scene):
    views = slice_views(scene)
    nav = ReviewNavigator(scene, SUMMARY)
    assert nav.position == "3 regions to review" and nav.current is None and nav.detail == ""
    start = [centre_of(v) for v in views]
    assert nav.next()["rank"] == 1 and nav.position == "1 of 3"
    for view in views:
        assert np.allclose(centre_of(view), lps_to_ras([10.0, -20.0, 30.0]))   # RAS = (−L, −P, S)
    assert not np.allclose(start[0], centre_of(views[0]))
    nav.next()
    assert nav.position == "2 of 3" and "possible missed structure" in nav.label
    assert all(np.allclose(centre_of(v), [40.5, -5.0, -7.25]) for v in views)
    nav.next()
    assert nav.next()["rank"] == 1 and nav.position == "1 of 3"                  # wraps around
    assert nav.previous()["rank"] == 3 and nav.position == "3 of 3"
    assert all(np.allclose(centre_of(v), [0.0, 0.0, 0.0]) for v in views)
    assert nav.step(0)["rank"] == 3 and nav.position == "3 of 3"               # a refresh moves nothing


def test_an_empty_list_says_so_and_moves_nothing(scene):
    views = slice_views(scene)
    before = [centre_of(v) for v in views]
    nav = ReviewNavigator(scene, {"review_regions": []})
    assert nav.next() is None and nav.previous() is None and nav.position == "no regions to review"
    assert all(np.allclose(b, centre_of(v)) for b, v in zip(before, views))
    assert ReviewNavigator(scene).label == "no regions to review"             # before any result


def test_the_case_flag_is_in_the_status_line():
    text = done_message({**SUMMARY, "seconds": 2.0})
    assert text.startswith("Done in 2.0 s. Case flag: review (expected wrong voxels: 24 % of the structure's size).")


@pytest.mark.parametrize("flag", ["ok", "likely failed"])
def test_the_train_case_table_shows_the_ranking_flag(scene, flag):
    from SGRSTrainLib.cohort import SceneCase
    from SGRSTrainLib.ranking import Ranked
    from SGRSTrainLib.rank_session import case_rows

    a = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "a")
    b = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "b")
    cases = [SceneCase(a, None), SceneCase(b, None)]
    rows = case_rows(cases, {a.GetID(): Ranked(cases[0], share=0.125, foreground_ml=3.0, score=0.031, flag=flag)})
    # the score as sgrs rank prints it (issue 25: the table showed "3.1 %" where the CLI printed 0.0310)
    if flag == "ok":
        assert rows[0] == ("1", "a", "no result", "0.0310", "ok", "Δ∪Θ 12.5 % of 3.00 mL")
    else:   # shown with its flag, but not suggested, and the row says why
        assert rows[0] == ("–", "a", "no result", "0.0310", "likely failed",
                           "not suggested: likely failed — check the scan and the model first")
    assert rows[1] == ("", "b", "no result", "", "", "")
    from xml.etree import ElementTree

    from conftest import ROOT
    ui = ElementTree.parse(ROOT / "SGRSTrain" / "Resources" / "UI" / "SGRSTrain.ui")
    table = next(w for w in ui.iter("widget") if w.get("name") == "casesTable")
    assert [c.findtext("property/string") for c in table.findall("column")] == \
        ["#", "Case", "State", "Score", "Case flag", "Note"]   # one heading per column of the rows


def test_the_session_steps_the_list_and_says_where_in_the_status_line(scene):
    """What the desktop widget's Next / Previous buttons call: the Lib session, then the widget refresh."""
    from SGRSSegmentLib.session import SegmentSession

    views = slice_views(scene)
    refreshed = []
    session = SegmentSession(scene, on_change=lambda: refreshed.append(session.message))
    session.next_region()                                   # no result yet: nothing moves, still refreshed
    assert session.message == "Ready." and refreshed == ["Ready."]
    session.review = ReviewNavigator(scene, SUMMARY)        # what poll() makes of a finished result
    session.next_region()
    session.next_region()
    assert session.message.startswith("2 of 3: high entropy, outside the segmentation")
    assert all(np.allclose(centre_of(v), [40.5, -5.0, -7.25]) for v in views)
    session.previous_region()
    assert session.message.startswith("1 of 3: uncertain (Δ)") and len(refreshed) == 4
