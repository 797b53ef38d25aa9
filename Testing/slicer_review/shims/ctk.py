# shim: the CTK classes Slicer's connectors name; only what they and our .ui use
from PySide6 import QtCore, QtWidgets
import qt
ctkSliderWidget = qt.pythonqt(QtWidgets.QDoubleSpinBox, "ctkSliderWidget")  # clamps and rounds like CTK
class _Path(QtWidgets.QLineEdit):
    currentPathChanged = QtCore.Signal(str)
    Dirs, Files = 1, 2
    def __init__(self, *a):
        super().__init__(*a); self._filters = 0; self.textChanged.connect(self.currentPathChanged)
ctkPathLineEdit = qt.pythonqt(_Path, "ctkPathLineEdit", {
    "currentPath": property(lambda s: QtWidgets.QLineEdit.text(s), lambda s, v: QtWidgets.QLineEdit.setText(s, v)),
    "filters": property(lambda s: s._filters, lambda s, v: setattr(s, "_filters", v))})
ctkCollapsibleButton = qt.pythonqt(QtWidgets.QGroupBox, "ctkCollapsibleButton", {
    "text": property(lambda s: s.title(), lambda s, v: s.setTitle(v))})
for _n in ("ctkCheckBox", "ctkComboBox", "ctkDoubleSlider", "ctkDoubleSpinBox", "ctkRangeWidget",
           "ctkDoubleRangeSlider", "ctkDirectoryButton", "ctkCheckablePushButton", "ctkColorPickerButton"):
    globals()[_n] = type(_n, (QtWidgets.QWidget,), {})
