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
    from sgrs.phantom import write_cohort

    out = tmp_path_factory.mktemp("cohort")
    write_cohort(out, cases=6, seed=3, val=1, test=1, size=(40, 40, 24), spacing=(1.5, 1.5, 2.0))
    return out
