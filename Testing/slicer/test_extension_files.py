"""The extension's build description matches the files, and SGRS.json matches the CMake metadata."""
import json
import re

import pytest
from conftest import ROOT

MODULES = ["SGRSSegment", "SGRSTrain"]


def cmake_set(text: str, name: str) -> list[str]:
    match = re.search(rf"set\({name}\s+(.*?)\)", text, re.S)
    assert match, f"set({name} ...) missing"
    return [t.strip('"') for t in match.group(1).split()]


@pytest.mark.parametrize("module", MODULES)
def test_every_listed_file_exists_and_every_module_file_is_listed(module):
    text = (ROOT / module / "CMakeLists.txt").read_text()
    listed = [f.replace("${MODULE_NAME}", module)
              for f in cmake_set(text, "MODULE_PYTHON_SCRIPTS") + cmake_set(text, "MODULE_PYTHON_RESOURCES")]
    for f in listed:
        assert (ROOT / module / f).is_file(), f"{module}/CMakeLists.txt lists missing {f}"
    on_disk = {p.relative_to(ROOT / module).as_posix() for p in (ROOT / module).rglob("*")
               if p.is_file() and p.suffix in (".py", ".ui", ".png") and "__pycache__" not in p.parts}
    assert on_disk == set(listed), f"not listed: {on_disk - set(listed)}; listed but absent: {set(listed) - on_disk}"
    assert "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in text
    source = (ROOT / module / f"{module}.py").read_text()
    assert re.search(rf"class {module}Test\(ModuleTest\)", source)
    assert "import ScriptedLoadableModuleTest as ModuleTest" in source


def test_top_level_cmake_and_extension_index_entry_agree():
    text = (ROOT / "CMakeLists.txt").read_text()
    entry = json.loads((ROOT / "SGRS.json").read_text())
    assert re.search(r"project\(SGRS\)", text)
    for module in MODULES:
        assert f"add_subdirectory({module})" in text
    depends = cmake_set(text, "EXTENSION_DEPENDS")
    assert sorted(depends) == sorted(entry["build_dependencies"]) == ["PyTorch"]
    assert cmake_set(text, "EXTENSION_CATEGORY") == [entry["category"]]
    homepage = cmake_set(text, "EXTENSION_HOMEPAGE")[0]
    assert entry["scm_url"].removesuffix(".git") == homepage
    for key in ("EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS"):
        url = cmake_set(text, key)[0]
        local = url.split("/main/", 1)[1]
        assert (ROOT / local).is_file(), f"{key} points at {local}, which is not in the repository"
    assert "install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/sgrs" in text
