"""Peak RSS of ``sgrs segment`` on a 512×512×400 int16 CT-sized volume with the full-size
(16-filter, 9.4 M parameter) V-Net on the CPU, region maps on. The segmentation runs in a child
process so its peak RSS (ru_maxrss) is its own. Overlap 0 keeps the run short: memory is set by
the accumulators and one window batch, not by the number of windows.

    python benchmarks/segment_memory.py [--size 512 512 400] [--overlap 0]
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sgrs.data.image_io import Geometry, write_image  # noqa: E402
from sgrs.models.bundle import default_classes, save_bundle  # noqa: E402
from sgrs.models.vnet import VNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, nargs=3, default=[512, 512, 400])
    ap.add_argument("--overlap", type=float, default=0.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sgrs-mem-") as tmp:
        measure(Path(tmp), tuple(args.size), args.overlap)


def measure(work: Path, size: tuple, overlap: float):
    torch.manual_seed(0)
    model = VNet(2, 16)
    save_bundle(work / "model", model, None, patch_size=(112, 112, 80), classes=default_classes(["background", "organ"]),
                normalization={"mode": "zscore", "window": [-125.0, 275.0]}, tau=0.296, delta_rule="union",
                mix_reference=np.random.default_rng(0).standard_normal((112, 112, 80)).astype(np.float32))
    rng = np.random.default_rng(0)
    ct = (rng.normal(40, 300, size)).astype(np.int16)
    write_image(ct, Geometry(size, (0.8, 0.8, 1.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1)), work / "ct.nrrd")
    del ct
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "sgrs", "segment", str(work / "ct.nrrd"), "--model",
                           str(work / "model"), "--out", str(work / "out"), "--overlap", str(overlap),
                           "--device", "cpu"], capture_output=True, text=True)
    if proc.returncode:
        print(proc.stderr)
        raise SystemExit(1)
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 ** 2
    summary = json.loads((work / "out" / "summary.json").read_text())
    input_gb = np.prod(size) * 4 / 1024 ** 3
    print(f"volume {size} int16 ({np.prod(size) / 1e6:.0f} M voxels), full-size V-Net, region maps on, "
          f"overlap {overlap}, {summary['windows']} window positions, {time.time() - t0:.0f} s wall")
    print(f"peak RSS of the segmentation process: {peak_gb:.2f} GB "
          f"(the float32 normalised input alone is {input_gb:.2f} GB)")


if __name__ == "__main__":
    main()
