# shim: PythonQt's `qt` -> PySide6. PythonQt exposes every Q_PROPERTY as an attribute *and* keeps the
# setter methods; pythonqt() gives a PySide class the same (used for every class a .ui here names).
from PySide6.QtCore import *  # noqa
from PySide6.QtGui import *  # noqa
from PySide6.QtWidgets import *  # noqa
from PySide6 import QtCore as _C, QtWidgets as _W

def pythonqt(base, name=None, extra=None):
    ns = dict(extra or {})
    mo = base.staticMetaObject
    for i in range(mo.propertyCount()):
        n = mo.property(i).name()
        if n in ns or n in ("objectName",):
            continue
        ns[n] = property(lambda s, n=n: _C.QObject.property(s, n), lambda s, v, n=n: _C.QObject.setProperty(s, n, v))
    return type(name or base.__name__, (base,), ns)

for _n in ("QComboBox", "QSpinBox", "QDoubleSpinBox", "QCheckBox", "QLineEdit", "QLabel", "QPushButton",
           "QProgressBar", "QTableWidget", "QSlider", "QTextEdit", "QWidget", "QGroupBox"):
    globals()[_n] = pythonqt(getattr(_W, _n))
