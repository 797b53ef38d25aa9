import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "SGRSSegment"))
sys.path.insert(0, str(ROOT / "SGRSTrain"))
sys.path.insert(0, str(ROOT / "Testing" / "slicer"))  # the Slicer tests' helpers (slicer_wrapper, ...)
# slicer-core's ``slicer`` package imports every module of any ``slicer/`` folder under a sys.path entry as
# ``slicer.<name>``: with Testing/ on sys.path (pytest puts it there for this file) that is every test
# module of Testing/slicer, imported a second time at ``import slicer`` and in an order that can close an
# import circle between two test modules. Import it once here without Testing/ on the path.
_testing = [p for p in sys.path if Path(p or ".").resolve() == ROOT / "Testing"]
sys.path[:] = [p for p in sys.path if p not in _testing]
try:
    import slicer  # noqa: E402,F401
finally:
    sys.path[:0] = _testing
from sgrs.util.threads import passive_openmp  # noqa: E402

passive_openmp()  # as engine processes do: spinning OpenMP threads crawl on a shared CPU (issue 17)
OFFICIAL_KEYS = ROOT / "Testing" / "data" / "official-vnet-state-dict.txt"  # the released checkpoint's key list


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory):
    """Six small phantom cases: 4 train, 1 val, 1 test."""
    from sgrs.data.phantom import write_cohort

    out = tmp_path_factory.mktemp("cohort")
    write_cohort(out, cases=6, seed=3, val=1, test=1, size=(40, 40, 24), spacing=(1.5, 1.5, 2.0))
    return out


OBLIQUE = (0.0, 0.0, 1.0, 0.0, 1.0, 0.0, -1.0, 0.0, 0.0)  # a direction matrix with a swapped, flipped axis


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A 2-filter, 2-class bundle (patch 32×32×16) with warmed BatchNorm and a mix reference."""
    import numpy as np
    import torch

    from sgrs.models.bundle import default_classes, save_bundle
    from sgrs.models.vnet import VNet

    torch.manual_seed(0)
    model = VNet(2, 2)
    model.train()  # warm the BatchNorm statistics so eval-mode predictions are not degenerate
    for _ in range(3):
        model(torch.randn(2, 1, 32, 32, 16))
    ref = np.random.default_rng(0).standard_normal((32, 32, 16)).astype(np.float32)
    return save_bundle(tmp_path_factory.mktemp("bundle") / "tiny", model, None, patch_size=(32, 32, 16),
                       classes=default_classes(["background", "left atrium"]),
                       normalization={"mode": "zscore", "window": None}, tau=0.296, delta_rule="union",
                       mix_reference=ref, spacing=[1.5, 1.5, 2.0])


LAUNCHER = [sys.executable, str(ROOT / "Testing" / "slicer" / "launcher_standin.py")]  # like PythonSlicer


def sgrs_processes(folder) -> list:
    """Live (non-zombie) processes whose command line mentions ``folder``: what a job left running."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and str(folder) in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


TOTALSEG_VERSION = "2.18.0"  # Apache-2.0; its sdist carries real CT/MR volumes and a CT DICOM series


@pytest.fixture(scope="session")
def clinical_files():
    """TotalSegmentator's tests/reference_files (real CT and MR volumes, a 20-file CT DICOM series),
    fetched once with pip into a cache folder ($SGRS_TEST_CACHE, default ~/.cache/sgrs-test-data)."""
    import os
    import subprocess
    import tarfile

    cache = Path(os.environ.get("SGRS_TEST_CACHE", Path.home() / ".cache" / "sgrs-test-data"))
    root = cache / f"totalsegmentator-{TOTALSEG_VERSION}" / "tests" / "reference_files"
    if (root / "example_ct_dicom").is_dir():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / f"totalsegmentator-{TOTALSEG_VERSION}.tar.gz"
    if not sdist.exists():
        try:
            done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                                   f"TotalSegmentator=={TOTALSEG_VERSION}", "-d", str(cache)],
                                  capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"clinical test files unavailable: pip download failed ({exc})")
        if done.returncode or not sdist.exists():
            pytest.skip("clinical test files unavailable: pip download of TotalSegmentator "
                        f"{TOTALSEG_VERSION} failed: {(done.stderr.strip().splitlines() or ['?'])[-1][:200]}")
    wanted = ("example_ct_dicom/", "example_ct_sm.nii.gz", "example_mr_sm.nii.gz")
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/tests/reference_files/" in m.name
                   and any(w in m.name for w in wanted)]
        tar.extractall(cache, members=members, filter="data")
    return root


def wait_until(predicate, timeout=240, interval=0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; the result of the last poll."""
    import time

    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.fixture()
def scene():
    """A real MRML scene (slicer-core) with its subject hierarchy, as the application makes it."""
    import slicer

    s = slicer.vtkMRMLScene()
    shl = slicer.vtkSlicerSubjectHierarchyModuleLogic()
    shl.SetMRMLScene(s)
    yield s
    s.Clear(1)


def load_node(scene, path, name="scan", cls="vtkMRMLScalarVolumeNode"):
    """A volume read through the real storage node, as Slicer loads a file."""
    node = scene.AddNewNodeByClass(cls, name)
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(str(path))
    assert storage.ReadData(node)
    node.SetAndObserveStorageNodeID(storage.GetID())
    return node


def add_scene_cases(scene, segmentations_logic, cohort, labelled, unlabelled):
    """Cohort cases as scene volumes; the labelled ones get a segmentation imported from their label."""
    for cid in list(labelled) + list(unlabelled):
        vol = load_node(scene, cohort / "images" / f"{cid}.nrrd", cid)
        if cid in labelled:
            lab = load_node(scene, cohort / "labels" / f"{cid}.nrrd", f"{cid} label", "vtkMRMLLabelMapVolumeNode")
            seg = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"{cid} segmentation")
            seg.SetReferenceImageGeometryParameterFromVolumeNode(vol)
            assert segmentations_logic.ImportLabelmapToSegmentationNode(lab, seg)
            scene.RemoveNode(lab)
