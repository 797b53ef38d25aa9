"""The GPU path, checked in one run (issue 17, item 4); ≤ 8 minutes on one GPU.

1. the engine's tests on the device (``Testing/engine``; the out-of-memory tests then run their
   ladder on the real device);
2. a 256×256×88 volume segmented with region maps by the full-size V-Net (16 filters, patch
   112×112×80), median of 3 after a warm-up (goal on a GPU: < 0.5 s including the maps);
3. one full-size training step (batch 2 + 2, patch 112×112×80) in float32 and in bf16 autocast from
   the same weights and batch: time per step and the two losses, which must agree;
4. 20 phantom cases segmented one after another by the demo model, written to disk.
Prints a Markdown table for docs/benchmarks.md; exits 1 if a check fails.

    python benchmarks/speed/gpu_check.py                       # CUDA, full sizes
    python benchmarks/speed/gpu_check.py --device cpu --small  # the same checks, small, on any machine
"""
import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from sgrs.util.threads import passive_openmp  # noqa: E402

passive_openmp()  # as the engine's processes do (docs/benchmarks.md): before torch is imported
import torch  # noqa: E402

from sgrs.data.image_io import Geometry, write_image  # noqa: E402
from sgrs.data.phantom import make_case  # noqa: E402
from sgrs.inference.segment import SegmentOptions, segment_array, segment_file  # noqa: E402
from sgrs.method.step import StepConfig, training_step  # noqa: E402
from sgrs.models.bundle import load_bundle  # noqa: E402
from sgrs.models.vnet import VNet  # noqa: E402
from sgrs.util.device import autocast_for, resolve_device  # noqa: E402

DEMO = ROOT / "Resources" / "Demo" / "model"
FULL = {"filters": 16, "patch": (112, 112, 80), "volume": (256, 256, 88), "cases": 20, "case_size": (64, 64, 48),
        "repeats": 3, "tests": "Testing/engine"}
SMALL = {"filters": 2, "patch": (32, 32, 16), "volume": (48, 48, 16), "cases": 2, "case_size": (48, 48, 32),
         "repeats": 1, "tests": "Testing/engine/test_out_of_memory.py"}
LOSS_AGREEMENT = 0.05  # relative: bf16 rounding, not a different loss


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def warmed_vnet(filters, patch, device) -> VNet:
    torch.manual_seed(0)
    model = VNet(2, filters).to(device).train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(1, 1, *patch, device=device))
    return model.eval()


def check_tests(device, sizes) -> tuple[str, bool]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if device.type == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", sizes["tests"]],
                          cwd=ROOT, capture_output=True, text=True, env=env)
    last = (done.stdout.strip().splitlines() or ["no output"])[-1]
    return f"{last} (pytest on {device.type})", done.returncode == 0


def check_segment(device, sizes) -> tuple[str, bool]:
    model = warmed_vnet(sizes["filters"], sizes["patch"], device)
    bundle = load_bundle(DEMO)
    bundle.model = model
    bundle.meta = {**bundle.meta, "patch_size": list(sizes["patch"]), "architecture": model.config(), "spacing": None}
    bundle.mix_reference = np.random.default_rng(0).standard_normal(sizes["patch"]).astype(np.float32)
    image, _, _ = make_case(0, 7, size=sizes["volume"], spacing=(0.625,) * 3)
    geom = Geometry(sizes["volume"], (0.625,) * 3, (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    times = []
    for r in range(sizes["repeats"] + 1):
        sync(device)
        t0 = time.perf_counter()
        seg = segment_array(image, geom, bundle, SegmentOptions(device=device.type, backend="torch"))
        sync(device)
        if r:
            times.append(time.perf_counter() - t0)
    split = seg.summary["scan"]["seconds"]
    return (f"{statistics.median(times):.2f} s median of {len(times)} (network {split['network']:.2f} s, maps "
            f"{split['maps']:.2f} s; {seg.summary['windows']} windows, plain and mixed view)", True)


def check_training(device, sizes) -> tuple[str, bool]:
    patch = sizes["patch"]
    g = torch.Generator().manual_seed(0)
    x_l, x_u = torch.randn((2, 1) + patch, generator=g), torch.randn((2, 1) + patch, generator=g)
    y_l = (torch.randn((2,) + patch, generator=g) > 0.5).long()
    x_l, x_u, y_l = x_l.to(device), x_u.to(device), y_l.to(device)
    torch.manual_seed(0)
    base = VNet(2, sizes["filters"]).to(device)
    results = {}
    for name, autocast in (("fp32", None), ("bf16", autocast_for(device) if device.type == "cuda" else
                                            lambda: torch.autocast("cpu", dtype=torch.bfloat16))):
        student, teacher = copy.deepcopy(base), copy.deepcopy(base)
        opt = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9)
        losses, times = [], []
        for step in range(sizes["repeats"] + 1):
            torch.manual_seed(step)  # the same dropout masks in both precisions
            sync(device)
            t0 = time.perf_counter()
            kwargs = {"autocast": autocast} if autocast else {}
            stats = training_step(student, teacher, opt, x_l, y_l, x_u, step, 100, StepConfig(),
                                  np.random.default_rng(step), **kwargs)
            sync(device)
            losses.append(stats["loss"])
            if step:
                times.append(time.perf_counter() - t0)
        results[name] = (losses[0], statistics.median(times))
    (l32, t32), (l16, t16) = results["fp32"], results["bf16"]
    rel = abs(l16 - l32) / max(abs(l32), 1e-8)
    return (f"fp32 {t32:.2f} s/step, bf16 {t16:.2f} s/step ({t32 / t16:.2f}×); first-step loss {l32:.4f} vs "
            f"{l16:.4f} (relative difference {rel:.1e}, limit {LOSS_AGREEMENT})", rel <= LOSS_AGREEMENT)


def check_batch(device, sizes) -> tuple[str, bool]:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(sizes["cases"]):
            image, _, _ = make_case(i, 2026, size=sizes["case_size"])
            paths.append(write_image(image, Geometry(image.shape, (1.25,) * 3, (0, 0, 0),
                                                     (1, 0, 0, 0, 1, 0, 0, 0, 1)), Path(tmp) / f"case{i:02d}.nrrd"))
        t0 = time.perf_counter()
        for p in paths:
            segment_file(p, DEMO, Path(tmp) / p.stem, SegmentOptions(device=device.type, backend="torch"))
        seconds = time.perf_counter() - t0
        written = sum((Path(tmp) / p.stem / "summary.json").exists() for p in paths)
    return (f"{len(paths)} cases in {seconds:.1f} s ({seconds / len(paths):.2f} s per case), "
            f"{written} summaries written", written == len(paths))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--small", action="store_true", help="small sizes (a CPU run of the same checks)")
    ap.add_argument("--skip-tests", action="store_true", help="leave out the engine's test suite")
    args = ap.parse_args()
    device = resolve_device(args.device)
    sizes = SMALL if args.small else FULL
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    checks = {"engine tests": check_tests, f"segment {'×'.join(map(str, sizes['volume']))} with region maps":
              check_segment, "training step fp32 vs bf16": check_training,
              f"segment {sizes['cases']} phantoms one after another": check_batch}
    if args.skip_tests:
        checks.pop("engine tests")
    print(f"device: {name}; torch {torch.__version__}; V-Net {sizes['filters']} filters, patch "
          f"{'×'.join(map(str, sizes['patch']))}\n\n| check | result | ok |\n|---|---|---|", flush=True)
    failed = 0
    for title, check in checks.items():
        t0 = time.perf_counter()
        try:
            text, ok = check(device, sizes)
        except Exception as exc:  # noqa: BLE001 (a check that crashes is a failed row, the others still run)
            text, ok = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", False
        failed += not ok
        print(f"| {title} | {text} | {'yes' if ok else 'NO'} ({time.perf_counter() - t0:.0f} s) |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
