"""Seconds per training step: the engine's step against a plain re-implementation of the same
math, on the same batch, in the same process, alternating runs. Prints a Markdown table.

    python benchmarks/speed/step_speed.py [--filters 16 8] [--patch 64 64 48] [--repeats 3]
"""
import argparse
import copy
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from plain_step import plain_losses, plain_step  # noqa: E402

from sgrs.method.mix import mix_augment  # noqa: E402
from sgrs.method.step import (  # noqa: E402
    StepConfig,
    compute_losses,
    losses_from_logits,
    training_step,
)
from sgrs.models.vnet import VNet  # noqa: E402

# the math plain_step.py writes out: the default recipe with the paper's Ω-only CE and a clean eval-mode teacher
SAME_MATH = StepConfig(con_ce_region="omega", teacher_noise=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--filters", type=int, nargs="+", default=[16, 8])
    ap.add_argument("--patch", type=int, nargs=3, default=[64, 64, 48])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    patch = tuple(args.patch)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; batch 2 labelled + 2 unlabelled (+2 mixed), patch {patch}")
    print("\n| filters | engine step (s) | plain step (s) | plain / engine | loss difference |")
    print("|---|---|---|---|---|")
    for f in args.filters:
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(0)
        x_l, x_u = torch.randn((2, 1) + patch, generator=g), torch.randn((2, 1) + patch, generator=g)
        y_l = (torch.randn((2,) + patch, generator=g) > 0.5).long()
        base = VNet(2, f)
        nets = {k: (copy.deepcopy(base), copy.deepcopy(base)) for k in ("engine", "plain")}
        opts = {k: torch.optim.SGD(nets[k][0].parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
                for k in nets}
        # loss agreement on identical inputs and weights (first step, dropout off for the check)
        diff = loss_difference(base, x_l, y_l, x_u)
        times = {"engine": [], "plain": []}
        for r in range(args.repeats + 1):
            for name in ("engine", "plain"):
                student, teacher = nets[name]
                t0 = time.perf_counter()
                if name == "engine":
                    training_step(student, teacher, opts[name], x_l, y_l, x_u, r, 100, SAME_MATH,
                                  np.random.default_rng(r))
                else:
                    x_m = mix_augment(x_u, x_l, np.random.default_rng(r))[0]
                    plain_step(student, teacher, opts[name], x_l, y_l, x_u, x_m, r, 100)
                if r:  # first round warms up allocators and kernels
                    times[name].append(time.perf_counter() - t0)
        e, p = statistics.median(times["engine"]), statistics.median(times["plain"])
        print(f"| {f} | {e:.3f} | {p:.3f} | {p / e:.2f}× | {diff:.1e} |")
    loss_part(patch, args.repeats)


def loss_part(patch, repeats):
    """The losses and regions alone (forward of the loss + backward to the logits), same logits."""
    g = torch.Generator().manual_seed(1)
    logits0 = torch.randn((6, 2) + patch, generator=g)
    y_l = (torch.rand((2,) + patch, generator=g) > 0.5).long()
    pl = (torch.rand((2,) + patch, generator=g) > 0.5).long()
    times = {"engine": [], "plain": []}
    values = {}
    for r in range(repeats + 1):
        for name in ("engine", "plain"):
            logits = logits0.clone().requires_grad_(True)
            t0 = time.perf_counter()
            if name == "engine":
                loss = losses_from_logits(logits, y_l, pl, 2, 2, 50, 100, SAME_MATH)[0]
            else:
                loss = plain_losses(logits, y_l, pl, 2, 2, 50, 100)
            loss.backward()
            if r:
                times[name].append(time.perf_counter() - t0)
            values[name] = loss.item()
    e, p = statistics.median(times["engine"]), statistics.median(times["plain"])
    print(f"\nLosses and regions only (6 × 2 × {patch} logits, forward + backward to the logits):\n")
    print("| engine (s) | plain (s) | plain / engine | loss difference |")
    print("|---|---|---|---|")
    print(f"| {e:.3f} | {p:.3f} | {p / e:.2f}× | {abs(values['engine'] - values['plain']):.1e} |")


def loss_difference(base, x_l, y_l, x_u):
    """|engine loss − plain loss| for one step from the same weights and inputs, dropout off."""
    import torch.nn as nn
    results = []
    for impl in ("engine", "plain"):
        student, teacher = copy.deepcopy(base), copy.deepcopy(base)
        for m in student.modules():
            if isinstance(m, nn.Dropout3d):
                m.p = 0.0
        opt = torch.optim.SGD(student.parameters(), lr=0.0)
        rng = np.random.default_rng(99)
        if impl == "engine":
            loss, _ = compute_losses(student.train(), teacher, x_l, y_l, x_u, 50, 100, SAME_MATH, rng)
            results.append(loss.item())
        else:
            # compute_losses draws a seed for the teacher generator before the mix; mirror it
            rng2 = np.random.default_rng(99)
            rng2.integers(2**31)
            x_m = mix_augment(x_u, x_l, rng2)[0]
            results.append(plain_step(student, teacher, opt, x_l, y_l, x_u, x_m, 50, 100))
    print(f"# loss check: engine {results[0]:.6f}, plain {results[1]:.6f}", file=sys.stderr)
    return abs(results[0] - results[1])


if __name__ == "__main__":
    main()
