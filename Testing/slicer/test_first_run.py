"""A fresh Slicer has no torch (issue 8, items 1, 2, 13): the panels open, the dependency check runs,
a failed install is one clear message, and the self-tests skip instead of failing."""
import ast
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from SGRSSegmentLib.dependencies import DependencyError, install

MODULES = ["SGRSSegment", "SGRSTrain"]
GUI_ONLY = ("qt", "ctk", "slicer", "vtk", "SampleData")  # provided by Slicer itself

BLOCKER = '''
import sys
class _NoTorch:
    """What a fresh Slicer looks like: torch, safetensors (and psutil, which Slicer does not ship)
    are not installed."""
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "safetensors", "psutil"):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None
sys.meta_path.insert(0, _NoTorch())
'''


def setup_time_imports(module: str) -> set:
    """Modules a widget file imports at load time, in the module class, and in setup() and cleanup()
    with every ``self.method()`` they call, transitively."""
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    methods = {f"{module}Widget.{name}": f for name, f in panel_methods().items()}  # its mixin's
    methods.update({f"{c.name}.{f.name}": f for c in tree.body if isinstance(c, ast.ClassDef)
                    for f in c.body if isinstance(f, ast.FunctionDef)})
    todo = [k for k in methods if k.endswith(("Widget.setup", "Widget.cleanup", f"{module}.__init__"))]
    nodes, seen = [n for n in tree.body if not isinstance(n, (ast.ClassDef, ast.FunctionDef))], set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        for node in ast.walk(methods[key]):
            nodes.append(node)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "self":
                todo += [k for k in methods if k.split(".")[0] == key.split(".")[0] and
                         k.endswith("." + node.func.attr)]
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n.split(".")[0] not in GUI_ONLY and n != "__future__"}


def panel_methods() -> dict:
    """The methods both widgets take from SGRSSegmentLib.panel.ParameterPanel, by name."""
    tree = ast.parse((ROOT / "SGRSSegment" / "SGRSSegmentLib" / "panel.py").read_text())
    panel = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ParameterPanel")
    return {f.name: f for f in panel.body if isinstance(f, ast.FunctionDef)}


def run_without_torch(tmp_path, code: str) -> dict:
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    path = os.pathsep.join(map(str, [tmp_path, ROOT, ROOT / "SGRSSegment", ROOT / "SGRSTrain"]))
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": path})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dependency_checks_and_setup_imports_work_without_torch(tmp_path):
    setup_imports = sorted(set().union(*(setup_time_imports(m) for m in MODULES)))
    assert {"SGRSSegmentLib.session", "SGRSTrainLib.session", "SGRSSegmentLib.dependencies",
            "SGRSSegmentLib.models", "SGRSSegmentLib.display"} <= set(setup_imports), setup_imports
    code = f'''
import importlib, json, sys
try:
    import torch
    blocked = False
except ImportError:
    blocked = True
for name in {setup_imports!r} + ["SGRSSegmentLib", "SGRSTrainLib", "SGRSSegmentLib.session", "SGRSTrainLib.session",
             "SGRSTrainLib.rank_session"]:
    importlib.import_module(name)
from SGRSSegmentLib.dependencies import missing_packages as segment_missing, self_test_skip_reason
from SGRSTrainLib.dependencies import missing_packages as train_missing
from SGRSSegmentLib.session import SegmentSession
from SGRSTrainLib.rank_session import RankSession
from SGRSTrainLib.session import TrainSession
SegmentSession(None); TrainSession(None, None, "jobs"); RankSession("model")
print(json.dumps({{"blocked": blocked, "segment": segment_missing(), "train": train_missing(),
                   "skip": self_test_skip_reason(), "loaded": [m for m in ("torch", "safetensors", "psutil") if m in sys.modules]}}))
'''
    out = run_without_torch(tmp_path, code)
    assert out["blocked"], "the blocker works"
    assert out["segment"] == out["train"] == ["torch>=2.1", "safetensors>=0.4", "psutil>=5.9"]
    assert out["loaded"] == []
    assert out["skip"].startswith("SGRS self-test skipped: torch>=2.1, safetensors>=0.4, psutil>=5.9 not installed")


def test_nothing_is_missing_in_the_development_environment():
    from SGRSSegmentLib.dependencies import missing_packages, self_test_skip_reason
    assert missing_packages() == [] and self_test_skip_reason() is None


def test_a_failed_install_is_one_clear_message(tmp_path, monkeypatch):
    """A real pip run against an empty local index fails; the user gets one line, no traceback."""
    (tmp_path / "index").mkdir()
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "index").as_uri())
    monkeypatch.setenv("PIP_NO_INPUT", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    with pytest.raises(DependencyError) as info:
        install(["sgrs-no-such-package>=1"])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("Installing sgrs-no-such-package>=1 failed (exit code 1: ERROR: ")
    assert "sgrs-no-such-package" in message.split("ERROR: ", 1)[1]


def test_the_install_route_uses_apis_that_exist():
    source = (ROOT / "SGRSSegment" / "SGRSSegmentLib" / "compat.py").read_text()
    assert "pydeps" not in source  # item 2: slicer.pydeps never existed
    assert "slicer.packaging.pip_ensure(" in source and "slicer.util.pip_install(" in source


@pytest.mark.parametrize("module", MODULES)
def test_self_tests_skip_with_a_message_where_torch_is_missing(module):
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    run_test = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "runTest")
    first = ast.unparse(run_test.body[0]) + ast.unparse(run_test.body[1])
    assert "self_test_skip_reason()" in first and "return" in first, "the skip comes before any torch use"


def test_the_region_display_runs_without_torch(tmp_path):
    """Issue 14, item 2: the panel's onParameters runs from setParameterNode during setup; with no torch
    it must neither import torch nor fail, with no result and with a region map."""
    code = '''
import json, sys
from types import SimpleNamespace
import numpy as np
import slicer
from SGRSSegmentLib.display import apply_region_settings, show_regions
from SGRSSegmentLib.parameters import SegmentResult
from SGRSSegmentLib.region_display import region_visibility
from SGRSSegmentLib.result_nodes import add_region_map
scene = slicer.vtkMRMLScene()
view = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
settings = SimpleNamespace(regionOpacity=0.7, showDelta=False, showTheta=True, showOmega=True)
show_regions(None, False, True, True)
before = apply_region_settings(scene, None, settings)
volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "scan")
slicer.util.updateVolumeFromArray(volume, np.zeros((4, 5, 6), np.float32))
regions = add_region_map(scene, volume, np.ones((6, 5, 4), np.uint8), "scan SGRS regions")[0]
view.SetLabelVolumeID(regions.GetID())
after = apply_region_settings(scene, SegmentResult(None, regions, None, None, {}), settings)
print(json.dumps({"before": before, "after": after, "opacity": view.GetLabelOpacity(),
                  "visible": region_visibility(regions), "torch": "torch" in sys.modules}))
'''
    out = run_without_torch(tmp_path, code)
    assert out == {"before": False, "after": True, "opacity": 0.7, "torch": False,
                   "visible": {"delta": False, "theta": True, "omega": True}}


def test_importing_a_model_before_the_install(tmp_path):
    """Issue 14, item 10: without torch a bundle is still registered (only model.json is read) and a .pth
    is a one-line SGRSError the panel shows in a dialog, not a torch traceback."""
    code = f'''
import json, sys
from SGRSSegmentLib.models import import_model, model_choices
from sgrs.util.errors import SGRSError
registry = {str(tmp_path / "registry")!r}
path = import_model({str(ROOT / "Resources" / "Demo" / "model" / "model.json")!r}, registry)
listed = str(path) in [p for _label, p in model_choices(registry)]
open({str(tmp_path / "official.pth")!r}, "wb").write(b"checkpoint")
try:
    import_model({str(tmp_path / "official.pth")!r}, registry)
    error = None
except SGRSError as exc:
    error = str(exc)
print(json.dumps({{"listed": listed, "error": error, "torch": "torch" in sys.modules}}))
'''
    out = run_without_torch(tmp_path, code)
    assert out["listed"] and not out["torch"]
    assert out["error"].startswith("Importing a PyTorch checkpoint needs torch>=2.1") and "\n" not in out["error"]
    assert "Install dependencies" in out["error"]


def test_a_failed_install_inside_slicer_points_to_the_console():
    """Slicer 5.8 and 5.10 raise CalledProcessError with output=proc.stdout, a stream (logProcessOutput);
    5.12's pip_ensure raises one without output after its own error dialog with the full log. The line
    says where pip's messages are instead of inventing one."""
    import io
    import subprocess

    from SGRSSegmentLib.dependencies import PIP_LOG, _last_error
    exc = subprocess.CalledProcessError(1, ["PythonSlicer", "-m", "pip"], output=io.StringIO(), stderr=None)
    assert _last_error(exc, PIP_LOG["pip_install"]) == "see the Python console"  # 5.8, 5.10
    exc = subprocess.CalledProcessError(1, "pip install")  # 5.12+, after Slicer's own dialog with the log
    assert _last_error(exc, PIP_LOG["pip_ensure"]) == "pip's log is in Slicer's 'Installation Failed' dialog"


def test_the_documented_console_call_exists():
    """Item 10: docs/slicer-extension.md's console example calls the module logic's process()."""
    tree = ast.parse((ROOT / "SGRSSegment" / "SGRSSegment.py").read_text())
    logic = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SGRSSegmentLogic")
    process = next(f for f in logic.body if isinstance(f, ast.FunctionDef) and f.name == "process")
    assert [a.arg for a in process.args.args] == ["self", "params", "progress"]
    assert "SGRSSegment.SGRSSegmentLogic().process(" in (ROOT / "docs" / "slicer-extension.md").read_text()


class PyTorchExtensionLogic:
    """What ``installTorch`` of the PyTorch extension does after light-the-torch has run: ``import torch``
    in Slicer's own process (fepegar/SlicerPyTorch ``PyTorchUtils/PyTorchUtils.py`` l. 224-227 at
    e1c85cc). The extension itself exists only inside Slicer; the import below is a real one."""

    def installTorch(self, askConfirmation=False, torchVersionRequirement=None):  # noqa: N802  its name
        import torch
        return torch


def test_an_import_error_from_install_torch_is_one_line_and_the_button_still_says_install(scene, monkeypatch):
    """A torch build that cannot be loaded (seen on Slicer 5.12.2) raised ImportError through ensure()
    and the widget's onApply, which never refreshed its button."""
    import types

    from SGRSSegmentLib.dependencies import ensure
    from SGRSSegmentLib.session import SegmentSession
    monkeypatch.setitem(sys.modules, "torch", None)  # not importable: `import torch` raises ImportError
    extension = types.ModuleType("PyTorchUtils")
    extension.PyTorchUtilsLogic = PyTorchExtensionLogic
    monkeypatch.setitem(sys.modules, "PyTorchUtils", extension)
    session = SegmentSession(scene)
    assert session.action(None).kind == "install"
    asked, reported = [], []
    assert ensure(lambda text: asked.append(text) or True, reported.append) is False
    assert len(asked) == 1 and asked[0].endswith("\n\ntorch>=2.1")
    assert len(reported) == 1 and "\n" not in reported[0], reported
    assert reported[0].startswith("PyTorch could not be installed or loaded (ModuleNotFoundError: import of torch")
    assert session.action(None).kind == "install"  # what the widget's refreshed button shows


def test_any_error_of_slicers_installer_is_one_line(monkeypatch):
    """Slicer 5.12's pip_ensure (slicer-core has no slicer.packaging: a stand-in) raising what no
    route expects: one line, ensure() returns False."""
    import types

    import slicer

    from SGRSSegmentLib import dependencies

    def pip_ensure(requirements, **_options):
        raise ValueError(f"Invalid requirement: {requirements[0]!r}\nHint: = is not a valid operator")
    packaging = types.ModuleType("slicer.packaging")
    packaging.pip_ensure = pip_ensure
    monkeypatch.setitem(sys.modules, "slicer.packaging", packaging)
    monkeypatch.setattr(slicer, "packaging", packaging, raising=False)
    monkeypatch.setattr(dependencies, "missing_packages", lambda: ["psutil>=5.9"])
    reported = []
    assert dependencies.ensure(lambda _text: True, reported.append) is False
    assert reported == ["Installing psutil>=5.9 failed (ValueError: Invalid requirement: 'psutil>=5.9')."]
