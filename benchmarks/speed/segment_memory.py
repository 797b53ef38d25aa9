"""Time and peak RSS of ``sgrs segment`` on a 512×512×400 int16 CT-sized volume (0.8×0.8×1.0 mm)
with the full-size (16-filter, 9.4 M parameter) V-Net on the CPU, region maps on: resampled to the
model's spacing (default) against ``--keep-spacing``, side by side. Each segmentation runs in its
own child process, which reports its own peak RSS (ru_maxrss). Overlap 0 keeps the runs short:
memory is set by the arrays and one window batch, not by the number of windows.

The model records spacing 0.8×0.8×0.8 mm and orientation LPS, so resampling *grows* the grid
(z 1.0 → 0.8 mm: 512×512×500, 1.25× the voxels), the harder case for memory.

    python benchmarks/speed/segment_memory.py [--size 512 512 400] [--overlap 0] [--model-spacing 0.8 0.8 0.8]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from sgrs.data.image_io import Geometry, write_image  # noqa: E402
from sgrs.models.bundle import default_classes, save_bundle  # noqa: E402
from sgrs.models.vnet import VNet  # noqa: E402

# runs `sgrs` in this process and writes this process's own peak RSS (KiB) to argv[1]
CHILD = ("import resource, sys\nfrom sgrs.cli import main\nout = sys.argv.pop(1)\n"
         "try:\n    code = main(sys.argv[1:])\nfinally:\n"
         "    open(out, 'w').write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\nsys.exit(code)\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, nargs=3, default=[512, 512, 400])
    ap.add_argument("--overlap", type=float, default=0.0)
    ap.add_argument("--model-spacing", type=float, nargs=3, default=[0.8, 0.8, 0.8])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sgrs-mem-") as tmp:
        measure(Path(tmp), tuple(args.size), args.overlap, args.model_spacing)


def run_segment(work: Path, name: str, extra: list) -> dict:
    rss = work / f"{name}.rss"
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(rss), "segment", str(work / "ct.nrrd"), "--model",
                           str(work / "model"), "--out", str(work / name), "--device", "cpu", *extra],
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    if proc.returncode:
        print(proc.stderr)
        raise SystemExit(1)
    summary = json.loads((work / name / "summary.json").read_text())
    return {"wall": time.time() - t0, "peak_gb": int(rss.read_text()) / 1024 ** 2, "summary": summary}


def measure(work: Path, size: tuple, overlap: float, model_spacing):
    torch.manual_seed(0)
    save_bundle(work / "model", VNet(2, 16), None, patch_size=(112, 112, 80),
                classes=default_classes(["background", "organ"]),
                normalization={"mode": "zscore", "window": [-125.0, 275.0]}, tau=0.296, delta_rule="union",
                mix_reference=np.random.default_rng(0).standard_normal((112, 112, 80)).astype(np.float32),
                spacing=model_spacing, orientation="LPS")
    ct = np.random.default_rng(0).normal(40, 300, size).astype(np.int16)
    write_image(ct, Geometry(size, (0.8, 0.8, 1.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1)), work / "ct.nrrd")
    del ct
    runs = {"--keep-spacing": run_segment(work, "keep", ["--overlap", str(overlap), "--keep-spacing"]),
            "resampled (default)": run_segment(work, "resampled", ["--overlap", str(overlap)])}
    print(f"volume {size} int16 0.8×0.8×1.0 mm ({np.prod(size) / 1e6:.0f} M voxels), full-size V-Net, region maps on, "
          f"overlap {overlap}, model spacing {model_spacing} mm, CPU {torch.get_num_threads()} threads")
    print("| run | network grid | windows (plain + mixed view) | wall (s) | prepare (s) | network (s) | maps back (s) | peak RSS (GB) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        s = r["summary"]
        sec = s["scan"].get("seconds", {})
        net = s["scan"]["network"]
        print(f"| {name} | {'×'.join(map(str, s['scan']['network_size']))} | "
              f"{net['windows_plain']} + {net['windows_mixed']} | {r['wall']:.0f} | "
              f"{sec.get('prepare', 0):.1f} | {sec.get('network', 0):.0f} | {sec.get('maps', 0):.1f} | "
              f"{r['peak_gb']:.2f} |")
    print("steps (resampled):", runs["resampled (default)"]["summary"]["scan"]["steps"])


if __name__ == "__main__":
    main()
