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


CATALOG_KEYS = {"$schema", "category", "scm_url", "scm_revision", "scm_type", "build_dependencies",
                "build_subdirectory", "enabled", "tier"}  # slicer-extension-catalog-entry-schema-v1.0.1


def index_format(entry: dict) -> str:
    """How the Extensions Index's pre-commit prettier (prettier-plugin-multiline-arrays,
    multilineArraysWrapThreshold 0) prints a flat catalog entry: 2-space indent, every array wrapped
    one item a line, a final newline. Our entries hold only strings, numbers, booleans and string lists."""
    lines = []
    for i, (key, value) in enumerate(entry.items()):
        comma = "," if i < len(entry) - 1 else ""
        if isinstance(value, list):
            items = [f"    {json.dumps(v, ensure_ascii=False)}" for v in value]
            body = ",\n".join(items)
            lines.append(f'  {json.dumps(key)}: [\n{body}\n  ]{comma}' if value else f'  {json.dumps(key)}: []{comma}')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    return "{\n" + "\n".join(lines) + "\n}\n"


def test_the_index_entry_is_in_the_index_format():
    """Issue 14, item 9: the index's lint wraps ["PyTorch"] over three lines; the schema allows no other key."""
    text = (ROOT / "SGRS.json").read_text()
    entry = json.loads(text)
    assert set(entry) <= CATALOG_KEYS and {"$schema", "category", "scm_url"} <= set(entry)
    assert entry["$schema"].endswith("slicer-extension-catalog-entry-schema-v1.0.1.json")
    assert text == index_format(entry)
    assert '"build_dependencies": [\n    "PyTorch"\n  ],' in text
    assert isinstance(entry["tier"], int) and 1 <= entry["tier"] <= 5


def test_the_docs_say_which_releases_get_it():
    docs = (ROOT / "docs" / "slicer-extension.md").read_text()
    assert "Which Slicer gets SGRS from the Extensions Manager" in docs
    for claim in ("latest **Preview** release only", "latest **Stable** release", "Install from file"):
        assert claim in docs
