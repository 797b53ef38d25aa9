"""Segmentation speed: our default against the published reference loop, same weights and volume,
one process, and the Dice between the two label maps. Prints a Markdown table.

    python benchmarks/speed/segment_speed.py [--full-size] [--threads N]

Default: the bundled (trained) demo model on a 128×128×96 phantom (agreement is meaningful with a
trained model). --full-size: the 16-filter V-Net at the LA patch 112×112×80 on a 256×256×88 volume
(untrained weights with warmed BatchNorm: timing only).
"""
import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_inference import reference_segment  # noqa: E402

from sgrs.data.image_io import Geometry  # noqa: E402
from sgrs.data.normalize import Normalization  # noqa: E402
from sgrs.data.phantom import make_case  # noqa: E402
from sgrs.evaluation.metrics import dice  # noqa: E402
from sgrs.inference.segment import SegmentOptions, segment_array  # noqa: E402
from sgrs.models.bundle import load_bundle  # noqa: E402
from sgrs.models.vnet import VNet  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "Resources" / "Demo" / "model"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full-size", action="store_true")
    args = ap.parse_args()
    bundle = load_bundle(DEMO)
    if args.full_size:
        torch.manual_seed(0)
        model = VNet(2, 16)
        model.train()
        with torch.no_grad():
            for _ in range(2):
                model(torch.randn(1, 1, 112, 112, 80))
        bundle.model = model.eval()
        bundle.meta = {**bundle.meta, "patch_size": [112, 112, 80], "architecture": model.config(), "spacing": None}
        bundle.mix_reference = np.random.default_rng(0).standard_normal((112, 112, 80)).astype(np.float32)
        size, spacing, what = (256, 256, 88), (0.625, 0.625, 0.625), "16-filter V-Net (9.4 M), patch 112×112×80"
    else:
        size, spacing, what = (128, 128, 96), (0.625, 0.625, 0.625), "demo model (8 filters), patch 48×48×32"
    image, truth, _ = make_case(3, seed=77, size=size, spacing=spacing)
    geom = Geometry(size, spacing, (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    norm = Normalization.from_json(bundle.meta["normalization"])(image)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"{what}; volume {size}", flush=True)

    t0 = time.perf_counter()
    ref_label, ref_windows = reference_segment(bundle.model, norm, bundle.patch_size, 2)
    t_ref = time.perf_counter() - t0
    print(f"  reference loop: {t_ref:.1f} s, {ref_windows} windows", flush=True)
    results = {}
    for name, regions in (("labels", False), ("labels + region maps", True)):
        t0 = time.perf_counter()
        # keep_spacing: the reference loop's grid (the demo model's 1.25 mm would leave 8 windows of 125)
        seg = segment_array(image, geom, bundle, SegmentOptions(device="cpu", regions=regions, keep_spacing=True))
        results[name] = (time.perf_counter() - t0, seg)
        print(f"  ours, {name}: {results[name][0]:.1f} s, {windows(seg.summary)} windows", flush=True)
    print("\n| run | seconds | windows (plain + mixed view) | speed-up vs reference | Dice vs reference labels | Dice vs truth |")
    print("|---|---|---|---|---|---|")
    print(f"| reference loop (stride 18×18×4, one window at a time) | {t_ref:.1f} | {ref_windows} | 1.0× | 1.0000 "
          f"| {dice(ref_label, truth):.4f} |")
    for name, (secs, seg) in results.items():
        print(f"| ours, {name} (overlap 0.5, Gaussian, batched) | {secs:.1f} | {windows(seg.summary)} | "
              f"{t_ref / secs:.1f}× | {dice(seg.label, ref_label):.4f} | {dice(seg.label, truth):.4f} |")


def windows(summary: dict) -> str:
    """The plain view's windows, and the region maps' mixed view's beside them when there are any."""
    net = summary["scan"]["network"]
    return f"{net['windows_plain']} + {net['windows_mixed']}" if net["windows_mixed"] else str(net["windows_plain"])


if __name__ == "__main__":
    main()
