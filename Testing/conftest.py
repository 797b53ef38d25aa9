import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "SGRSSegment"))
sys.path.insert(0, str(ROOT / "SGRSTrain"))
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
