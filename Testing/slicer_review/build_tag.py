"""Build OUT/<tag>/slicer from a bare git mirror of Slicer: Slicer's own parameterNodeWrapper, its
VTKObservationMixin, NodeModify and arrayFromVolume (from util.py, verbatim) and ScriptedLoadableModule at
<tag>, with the smallest shims around them (slicer.app, loadUI, qMRML widgets; MRML itself is slicer-core's).
Usage: build_tag.py MIRROR TAG OUT"""
import ast
import pathlib
import subprocess
import sys

mirror, tag, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
root = out / tag / "slicer"
(root / "parameterNodeWrapper").mkdir(parents=True, exist_ok=True)


def show(path):
    return subprocess.run(["git", "-C", mirror, "show", f"{tag}:{path}"], check=True, capture_output=True,
                          text=True).stdout


WRAPPER = "Base/Python/slicer/parameterNodeWrapper/"
listing = subprocess.run(["git", "-C", mirror, "ls-tree", "--name-only", tag, WRAPPER],
                         check=True, capture_output=True, text=True).stdout.split()
for name in listing:
    (root / "parameterNodeWrapper" / pathlib.Path(name).name).write_text(show(name))
(root / "ScriptedLoadableModule.py").write_text(show("Base/Python/slicer/ScriptedLoadableModule.py"))
src = show("Base/Python/slicer/util.py")
tree = ast.parse(src)
mixin = ""
for want in ("VTKObservationMixin", "NodeModify", "toVTKString", "toLatin1String", "arrayFromVolume"):
    for cls in (n for n in tree.body if getattr(n, "name", None) == want):
        mixin += "\n".join(src.splitlines()[cls.lineno - 1 - len(cls.decorator_list):cls.end_lineno]) + "\n\n"
(root / "util.py").write_text('''import vtk, logging
import slicer
# Slicer's VTKObservationMixin, NodeModify and arrayFromVolume at this tag, verbatim:
''' + mixin + '''

# shims (not Slicer's code):
def findChildren(widget=None, name="", text="", title="", className=""):
    import qt
    return [w for w in widget.findChildren(qt.QObject)]
def findChild(widget, name):
    return next(w for w in findChildren(widget) if w.objectName() == name)
def childWidgetVariables(widget):
    import types
    return types.SimpleNamespace(**{w.objectName(): w for w in findChildren(widget) if w.objectName()})
def loadUI(path):
    import qt, ctk
    from PySide6.QtUiTools import QUiLoader
    class Loader(QUiLoader):
        def createWidget(self, cls, parent=None, name=""):
            k = getattr(qt, cls, None) or getattr(ctk, cls, None) or getattr(slicer, cls, None)
            if k is None or not isinstance(k, type):
                return super().createWidget(cls, parent, name)
            w = k(parent); w.setObjectName(name); return w
    w = Loader().load(path)
    w.setMRMLScene = lambda scene: [c.setMRMLScene(scene) for c in w.findChildren(slicer.qMRMLNodeComboBox)]
    return w
''')
(root / "i18n.py").write_text("def tr(t): return t\ndef translate(c, t): return t\n")
(root / "__init__.py").write_text('''# shim package: slicer-core's MRML, Slicer's Python files at this tag
from slicer_core import *  # noqa
from PySide6 import QtCore, QtWidgets
import slicer_core as _c
import qt as _qt
class qMRMLSpinBox(QtWidgets.QWidget): pass
class qMRMLWidget(_qt.QWidget):
    def setMRMLScene(self, s): pass
class qSlicerWidget(QtWidgets.QWidget): pass
class qMRMLRangeWidget(QtWidgets.QWidget): pass
class qMRMLSliderWidget(QtWidgets.QWidget): pass
class qMRMLPlotWidget(QtWidgets.QWidget):
    def setMRMLScene(self, s): pass
    def setMRMLPlotViewNode(self, n): pass
class qMRMLNodeComboBox(_qt.QComboBox):
    currentNodeChanged = QtCore.Signal(object)
    def __init__(self, *a):
        super().__init__(*a); self._scene = None; self._node = None; self._types = []
    nodeTypes = property(lambda s: s._types, lambda s, v: setattr(s, "_types", list(v)))
    def setMRMLScene(self, s): self._scene = s
    def mrmlScene(self): return self._scene
    def currentNode(self): return self._node
    def setCurrentNode(self, n):
        if n is not self._node:
            self._node = n; self.currentNodeChanged.emit(n)
''')
print("ok", tag)
