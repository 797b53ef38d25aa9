"""The compatibility modules (issue 14, item 3 and the compat deliverable): each call whose availability
differs between Slicer 5.8 and the newest release, one test per branch on slicer-core (5.11). The older
branch is tested by hiding the newer method; a newer API slicer-core lacks is given as a stand-in module
that records the call (slicer.packaging appeared in 5.12)."""
import ast
import os
import sys
import types

import slicer
import slicer.util
import vtk
from conftest import ROOT
from SGRSSegmentLib import compat
from SGRSTrainLib import compat as train_compat

ENTRY = ("Segmentation category and type - 3D Slicer General Anatomy list~SCT^123037004^Anatomical Structure~"
         "SCT^82471001^Left atrium~^^~Anatomic codes - DICOM master list~^^~^^")


class Slicer58Segment:
    """A real vtkSegment with SetTerminology hidden, as in Slicer 5.8."""

    def __init__(self, segment):
        self._segment = segment

    def __getattr__(self, name):
        if name in ("SetTerminology", "GetTerminology"):
            raise AttributeError(f"vtkSegment has no attribute {name!r} in Slicer 5.8")
        return getattr(self._segment, name)


def test_terminology_on_the_newest_release():
    segment = slicer.vtkSegment()
    compat.set_terminology(segment, ENTRY)
    assert segment.GetTerminology() == ENTRY  # what 5.10+ reads back


def test_terminology_on_5_8_without_set_terminology():
    segment = slicer.vtkSegment()
    compat.set_terminology(Slicer58Segment(segment), ENTRY)
    value = vtk.reference("")
    assert segment.GetTag(segment.GetTerminologyEntryTagName(), value) and str(value) == ENTRY


def test_no_lib_calls_set_terminology_directly():
    """Item 3: SetTerminology does not exist in 5.8, so every Lib goes through compat."""
    for lib in (ROOT / "SGRSSegment" / "SGRSSegmentLib", ROOT / "SGRSTrain" / "SGRSTrainLib"):
        for py in lib.glob("*.py"):
            calls = {n.func.attr for n in ast.walk(ast.parse(py.read_text()))
                     if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
            assert "SetTerminology" not in calls, py


def test_pip_route_on_5_12_and_newer(monkeypatch):
    calls = []
    packaging = types.ModuleType("slicer.packaging")  # stand-in: slicer-core 5.11 has no slicer.packaging
    packaging.pip_ensure = lambda reqs, **kw: calls.append((reqs, kw))
    monkeypatch.setitem(sys.modules, "slicer.packaging", packaging)
    monkeypatch.setattr(slicer, "packaging", packaging, raising=False)
    route, install = compat.pip_installer()
    install(["psutil>=5.9", "h5py>=3.8"])
    assert route == "pip_ensure"
    assert calls == [(["psutil>=5.9", "h5py>=3.8"], {"prompt_install": False, "requester": "SGRS"})]


def test_pip_route_on_5_8_and_5_10(monkeypatch, tmp_path):
    """No slicer.packaging (hidden, as in 5.8/5.10) and Slicer's PythonSlicer on PATH: slicer.util.pip_install
    with one string. slicer-core's own pip_install is the function called."""
    launcher = tmp_path / "PythonSlicer"
    launcher.write_text("#!/bin/sh\nexit 0\n")
    launcher.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setitem(sys.modules, "slicer.packaging", None)  # hidden: import fails
    seen = []
    monkeypatch.setattr(slicer.util, "pip_install", lambda text: seen.append(text))
    route, install = compat.pip_installer()
    install(["psutil>=5.9", "h5py>=3.8"])
    assert route == "pip_install" and seen == ["psutil>=5.9 h5py>=3.8"]


def test_pip_route_outside_slicer(monkeypatch):
    monkeypatch.setitem(sys.modules, "slicer.packaging", None)
    monkeypatch.setenv("PATH", "")
    route, install = compat.pip_installer()
    assert route == "subprocess" and install is compat.pip_subprocess


def test_compat_does_not_import_dependencies_which_uses_it():
    """One direction (issue 25): dependencies.py uses compat.py, never the reverse."""
    lib = ROOT / "SGRSSegment" / "SGRSSegmentLib"
    imported = {node.module for node in ast.walk(ast.parse((lib / "compat.py").read_text()))
                if isinstance(node, ast.ImportFrom) and node.level > 0}
    assert "dependencies" not in imported
    uses = {node.module for node in ast.walk(ast.parse((lib / "dependencies.py").read_text()))
            if isinstance(node, ast.ImportFrom) and node.level > 0}
    assert "compat" in uses


def test_rebind_gets_a_tag_on_5_8_and_can_undo_it(scene, monkeypatch):
    """The strict stand-in at v5.8.1: ``connectGui`` returns no tag and ``disconnectGui`` leaves the
    node's GUI-update observer behind (it then writes nothing); ``connectParametersToGui`` returns the
    tag, the first one being 0 (``wrapper.py`` v5.8.1 l. 130-133, 194-213, 241-261)."""
    from slicer_wrapper import make_widget, module_parameter_node, wrapper_class
    from test_binding_contract import parameter_fields
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    combo = make_widget("QComboBox")
    monkeypatch.setattr(compat, "parameter_widgets", lambda ui: {"device": combo})
    cls = wrapper_class(parameter_fields("SGRSSegment"), "v5.8.1")
    node = module_parameter_node(scene, "SGRSSegment")
    first, second = cls(node), cls(node)
    assert first.connectGui({}) is None  # why rebind does not use it
    tag = compat.rebind(None, None, first, "the .ui")
    assert tag == 1 and combo.currentText() == "auto"  # tag 0 went to the connectGui above
    node.SetParameter("device", "cpu")
    assert combo.currentText() == "cpu"
    assert compat.rebind(first, tag, second, "the .ui") == 0  # second's own first tag
    node.SetParameter("device", "cuda")
    assert combo.currentText() == "cuda" and first._guis == {0: {}}
    assert compat.rebind(second, 0, None, "the .ui") is None and second._guis == {}
    node.SetParameter("device", "mps")
    assert combo.currentText() == "cuda", "nothing follows the node once unbound"


def test_train_uses_the_same_compat_calls():
    assert train_compat.rebind is compat.rebind and train_compat.pip_installer is compat.pip_installer
