# shim: PythonQt's `qt` -> PySide6. PythonQt exposes every Q_PROPERTY as an attribute *and* keeps the
# setter methods; pythonqt() gives a PySide class the same (used for every class a .ui here names).
from PySide6.QtCore import *  # noqa
from PySide6.QtGui import *  # noqa
from PySide6.QtWidgets import *  # noqa
from PySide6 import QtCore as _C, QtWidgets as _W

def _getter(base, n, meta):
    """The C++ getter itself (QObject.property(name) and QMetaProperty.read of PySide 6.11 can come back to
    the Python attribute of that name: endless recursion once a QProgressBar's value changes)."""
    cap = n[0].upper() + n[1:]
    for name in (n, "is" + cap, "has" + cap):
        method = base.__dict__.get(name) or getattr(base, name, None)
        if callable(method):
            return lambda s, m=method: m(s)
    return lambda s: meta.read(s)


def _setter(base, n, meta):
    method = getattr(base, "set" + n[0].upper() + n[1:], None)
    return (lambda s, v: method(s, v)) if callable(method) else (lambda s, v: meta.write(s, v))


def pythonqt(base, name=None, extra=None):
    ns = dict(extra or {})
    mo = base.staticMetaObject
    for i in range(mo.propertyCount()):
        n = mo.property(i).name()
        if n in ns or n in ("objectName",):
            continue
        ns[n] = property(_getter(base, n, mo.property(i)), _setter(base, n, mo.property(i)))
    return type(name or base.__name__, (base,), ns)

for _n in ("QComboBox", "QSpinBox", "QDoubleSpinBox", "QCheckBox", "QLineEdit", "QLabel", "QPushButton",
           "QProgressBar", "QTableWidget", "QSlider", "QTextEdit", "QWidget", "QGroupBox"):
    globals()[_n] = pythonqt(getattr(_W, _n))
