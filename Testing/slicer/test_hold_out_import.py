"""Add Data of a saved scene into one that has volumes renumbers clashing node ids; SGRS Train's stored hold-out
is a plain volume id, so after such an import it could name another scan. It is cleared instead (review 2 of
issue 28), and kept when the import renumbered nothing it names."""
import slicer

from SGRSTrainLib.decision import hold_out_after_import


def _import(scene, names):
    saved = slicer.vtkMRMLScene()
    for name in names:
        saved.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    saved.SetSaveToXMLString(1)
    saved.Commit()
    scene.SetLoadFromXMLString(1)
    scene.SetSceneXMLString(saved.GetSceneXMLString())
    scene.Import()


def test_a_hold_out_whose_id_an_import_renumbered_is_cleared():
    scene = slicer.vtkMRMLScene()
    mine = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "already here")
    _import(scene, ["held out when saved"])   # its id clashed with mine's: MRML gave it a new one
    held = mine.GetID()
    assert scene.GetChangedID(held)           # the id the saved scene used is now another node's name for it
    assert hold_out_after_import(scene, held) == ""


def test_a_hold_out_the_import_did_not_touch_is_kept():
    scene = slicer.vtkMRMLScene()
    scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "a")
    mine = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "b")
    _import(scene, ["imported"])              # clashes with the first node's id only
    assert hold_out_after_import(scene, mine.GetID()) == mine.GetID()
    assert hold_out_after_import(scene, "") == "" and hold_out_after_import(None, mine.GetID()) == mine.GetID()
