"""Forward-pass variants for sliding-window inference on this device: fp32 (the default),
channels-last-3d memory format, bf16 autocast, and ``torch.compile``. Same weights, same window
batch, one process, alternating runs; prints seconds per batch and the largest probability
difference to fp32. Used to choose the CPU defaults (see docs/benchmarks.md).

    python benchmarks/speed/inference_variants.py [--filters 8] [--patch 48 48 32] [--batch 4]
"""
import argparse
import copy
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from sgrs.models.vnet import VNet  # noqa: E402


def variants(model: VNet):
    yield "fp32 (default)", model, lambda x: x, torch.autocast("cpu", enabled=False)
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last_3d)
    yield "channels-last-3d", cl, lambda x: x.contiguous(memory_format=torch.channels_last_3d), \
        torch.autocast("cpu", enabled=False)
    yield "bf16 autocast", model, lambda x: x, torch.autocast("cpu", dtype=torch.bfloat16)
    try:
        compiled = torch.compile(copy.deepcopy(model))
        yield "torch.compile", compiled, lambda x: x, torch.autocast("cpu", enabled=False)
    except Exception as error:  # no compiler tool-chain: report and go on
        print(f"# torch.compile unavailable: {error}", file=sys.stderr)


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--filters", type=int, default=8)
    ap.add_argument("--patch", type=int, nargs=3, default=[48, 48, 32])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = VNet(2, args.filters)
    model.train()
    for _ in range(2):  # non-trivial BatchNorm statistics
        model(torch.randn(2, 1, *args.patch))
    model.eval()
    x = torch.randn(args.batch, 1, *args.patch)
    reference = model(x).softmax(1)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"V-Net {args.filters} filters, batch {args.batch} × {tuple(args.patch)}\n")
    print("| variant | s / batch | vs fp32 | max |Δp| |")
    print("|---|---|---|---|")
    base = None
    for name, net, prep, autocast in variants(model):
        times = []
        try:
            for r in range(args.repeats + 1):
                t0 = time.perf_counter()
                with autocast:
                    probs = net(prep(x)).float().softmax(1)
                if r:  # the first run warms up (and compiles)
                    times.append(time.perf_counter() - t0)
        except Exception as error:
            print(f"| {name} | failed: {type(error).__name__} | | |")
            continue
        t = statistics.median(times)
        base = base or t
        print(f"| {name} | {t:.3f} | {base / t:.2f}× | {(probs - reference).abs().max().item():.1e} |", flush=True)


if __name__ == "__main__":
    main()
