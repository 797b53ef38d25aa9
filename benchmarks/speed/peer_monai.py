"""CPU inference against MONAI's ``sliding_window_inference`` (issue 17, item 1).

Same full-size V-Net (16 filters, 9.4 M parameters, warmed BatchNorm, seed 0), same volume, overlap
0.5, Gaussian blending, 2 windows per forward pass, 2 threads; alternating repetitions in one
process, median time per run; labels compared voxel by voxel against MONAI's.

    python benchmarks/speed/peer_monai.py [--size 160 160 112] [--repeats 3] [--threads 2]

MONAI is installed for this script only, with pip into ``benchmarks/.peer/`` (no dependencies:
it runs on this environment's torch and numpy), never into the project's environment. On a volume
of at most two windows per axis both place their windows identically (0 and size − patch), so the
labels can be compared exactly.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from sgrs.util.threads import passive_openmp  # noqa: E402

passive_openmp()  # as the engine's processes do (docs/benchmarks.md): before torch is imported
import torch  # noqa: E402

from sgrs.data.phantom import make_case  # noqa: E402
from sgrs.inference.backends import make_predictor, openvino_available  # noqa: E402
from sgrs.inference.sliding import model_predictor, sliding_window  # noqa: E402
from sgrs.models.vnet import VNet  # noqa: E402

MONAI = "monai==1.6.1"
PEER = ROOT / "benchmarks" / ".peer" / MONAI.replace("==", "-")


def import_monai():
    if not (PEER / "monai").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(PEER), MONAI],
                       check=True)
    sys.path.insert(0, str(PEER))
    from monai.inferers import sliding_window_inference
    return sliding_window_inference


def full_size_vnet() -> VNet:
    torch.manual_seed(0)
    model = VNet(2, 16)
    model.train()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for _ in range(2):
            model(torch.randn(1, 1, 112, 112, 80))
    return model.eval()


def load() -> str:
    return "load average " + " / ".join(f"{v:.1f}" for v in os.getloadavg())


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, nargs=3, default=[160, 160, 112])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    swi = import_monai()
    patch = (112, 112, 80)
    model = full_size_vnet()
    image, _, _ = make_case(0, 77, size=tuple(args.size), spacing=(0.625, 0.625, 0.625))
    image = ((image - image.mean()) / image.std()).astype(np.float32)
    plain = model_predictor(model)  # the same eval-mode network, unfolded, contiguous: MONAI's input

    def monai_run():
        probs = swi(torch.from_numpy(image)[None, None], patch, args.batch, plain, overlap=0.5, mode="gaussian")
        return probs[0].numpy()

    runs = {"MONAI sliding_window_inference": monai_run}
    engines = {"sgrs, torch (BatchNorm folded, channels-last)": make_predictor(model, torch.device("cpu"), "torch")}
    if openvino_available():
        t0 = time.perf_counter()
        engines["sgrs, OpenVINO (float32)"] = make_predictor(model, torch.device("cpu"), "openvino", patch)
        print(f"# OpenVINO conversion and compilation: {time.perf_counter() - t0:.1f} s (once per model)")
    for name, predict in engines.items():
        runs[name] = lambda predict=predict: sliding_window(predict, image, patch, 2, 0.5, args.batch).numpy()
    print(f"machine: {platform.machine()}, {args.threads} threads, torch {torch.__version__}, {MONAI}; "
          f"V-Net 16 filters, patch {patch}, volume {tuple(args.size)}, overlap 0.5, Gaussian, "
          f"batch {args.batch}; {load()}", flush=True)
    times = {k: [] for k in runs}
    probs = {}
    for r in range(args.repeats + 1):  # the first round warms up
        for name, fn in runs.items():
            t0 = time.perf_counter()
            probs[name] = fn()
            if r:
                times[name].append(time.perf_counter() - t0)
        print(f"# round {r}: " + ", ".join(f"{k}: {v[-1]:.1f} s" for k, v in times.items() if v) + f"; {load()}",
              flush=True)
    base = "MONAI sliding_window_inference"
    labels = {k: p.argmax(0) for k, p in probs.items()}
    print("\n| run | s per volume (median, min–max) | runs | speed-up vs MONAI (median of paired rounds, min–max) "
          "| voxels whose label differs from MONAI's | there, MONAI's largest |p − 0.5| | max |Δp| anywhere |")
    print("|---|---|---|---|---|---|---|")
    for name, t in times.items():
        med = statistics.median(t)
        spread = f"{min(t):.1f}–{max(t):.1f}"
        differ = labels[name] != labels[base]
        tie = float(np.abs(probs[base][1][differ] - 0.5).max()) if differ.any() else 0.0
        dp = float(np.abs(probs[name] - probs[base]).max())
        ratios = [m / o for m, o in zip(times[base], t)]
        print(f"| {name} | {med:.1f} ({spread}) | {len(t)} | {statistics.median(ratios):.2f}× "
              f"({min(ratios):.2f}–{max(ratios):.2f}) | {int(differ.sum())} of {differ.size} | {tie:.1e} | {dp:.1e} |")
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
