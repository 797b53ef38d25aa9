"""Every .ui loads offscreen (PySide6 QUiLoader) and holds every widget name its module uses."""
import os
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import ROOT

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6 import QtWidgets  # noqa: E402
from PySide6.QtCore import QFile  # noqa: E402
from PySide6.QtUiTools import QUiLoader  # noqa: E402

MODULES = ["SGRSSegment", "SGRSTrain"]


def load_ui(path):
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    loader = QUiLoader()
    declared = {c.findtext("class") for c in ET.parse(path).getroot().iter("customwidget")}
    for name in declared:  # CTK / qMRML classes get plain stand-ins of the same name
        loader.registerCustomWidget(type(name, (QtWidgets.QWidget,), {}))
    f = QFile(str(path))
    f.open(QFile.ReadOnly)
    widget = loader.load(f)
    f.close()
    assert widget is not None, loader.errorString()
    return app, widget


@pytest.mark.parametrize("module", MODULES)
def test_ui_loads_and_has_every_widget_the_module_uses(module):
    path = ROOT / module / "Resources" / "UI" / f"{module}.ui"
    _app, widget = load_ui(path)
    names = {w.objectName() for w in widget.findChildren(QtWidgets.QWidget)}
    used = set(re.findall(r"self\.ui\.(\w+)", (ROOT / module / f"{module}.py").read_text()))
    assert used, "the module uses its .ui"
    missing = used - names
    assert not missing, f"{module}.py uses widgets missing from {path.name}: {sorted(missing)}"


@pytest.mark.parametrize("path", sorted((ROOT / m / "Resources" / "UI" / f).relative_to(ROOT).as_posix()
                                         for m in MODULES for f in os.listdir(ROOT / m / "Resources" / "UI")))
def test_every_ui_file_loads_and_names_its_top_widget_as_its_class(path):
    """Also the dialogs a module loads on demand (SGRS Train's terminology picker)."""
    _app, widget = load_ui(ROOT / path)
    assert widget.objectName() == ET.parse(ROOT / path).getroot().findtext("class")


@pytest.mark.parametrize("module", MODULES)
def test_module_files_stay_thin(module):
    lines = (ROOT / module / f"{module}.py").read_text().splitlines()
    assert len(lines) < 200, f"{module}.py has {len(lines)} lines: move logic into {module}Lib"
    source = "\n".join(lines)
    lib = ROOT / module / f"{module}Lib"
    for py in lib.glob("*.py"):
        assert not re.search(r"^\s*(import qt|from qt )", py.read_text(), re.M), f"{py.name} imports qt"
    assert "import qt" in source  # the widget layer is where qt lives

# the SlicerParameterName ↔ parameter node contract: test_binding_contract.py
