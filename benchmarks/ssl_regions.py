"""Why Δ jumps: each view's uncertain share on training batches, with and without dropout.

For a trained ssl_gain job this rebuilds the job's own batches (same sampler, same mix draws for
step t) and runs the final student as the training step does — train mode, one forward on
[D_L, D_U, D_M] — then again with dropout off (BatchNorm still on batch statistics). It prints the
share of voxels uncertain in P_U, in P_M, their union and intersection, per sample, so a Δ spike can
be traced to one view, one sample, or dropout. The student is the final one, not the one of step t:
this explains the mechanism, it does not replay the run.

    python benchmarks/ssl_regions.py /work/bench-out/main600/runs/default/seed0 --steps 300 420 540
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    from sgrs.data.cohort import load_cohort
    from sgrs.data.normalize import Normalization
    from sgrs.data.sampler import BatchSampler
    from sgrs.method.mix import mix_augment
    from sgrs.method.synergy import DEFAULT_TAU, entropy_log10
    from sgrs.models.bundle import load_bundle
    from sgrs.training.config import TrainConfig
    from sgrs.training.job import JobFolder

    ap = argparse.ArgumentParser()
    ap.add_argument("job")
    ap.add_argument("--steps", type=int, nargs="+", default=[300, 420, 540])
    ap.add_argument("--draws", type=int, default=8, help="dropout draws per step")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig.from_json(JobFolder(args.job).read_config())
    bundle = load_bundle(Path(args.job) / "model")
    model = bundle.model
    cohort = load_cohort(cfg.cohort, cfg.labelled, cfg.val, Normalization.from_json(bundle.meta["normalization"]))
    sampler = BatchSampler(cohort.labelled, cohort.unlabelled, cfg.patch, cfg.batch_labelled,
                           cfg.batch_unlabelled, cfg.seed)
    print("| step | dropout | draw | uncertain P_U (per sample) | uncertain P_M (per sample) | union | intersection |")
    print("|---|---|---|---|---|---|---|")
    for t in args.steps:
        x_l, _, x_u = sampler.batch(t)
        rng = np.random.default_rng([cfg.seed, t, 0, 1])
        rng.integers(2**31)  # the pseudo-label noise draw comes first in the step
        x_m = mix_augment(x_u, x_l, rng, cfg.mix_alpha, cfg.partner)[0]
        b_l, b_u = x_l.shape[0], x_u.shape[0]
        for dropout in (True, False):
            for draw in range(args.draws if dropout else 1):
                model.train()
                for m in model.modules():
                    if isinstance(m, torch.nn.Dropout3d) and not dropout:
                        m.eval()
                    if isinstance(m, torch.nn.BatchNorm3d):
                        m.momentum = 0.0  # batch statistics, without touching the stored ones
                torch.manual_seed(1000 * t + draw)
                with torch.no_grad():
                    p = model(torch.cat([x_l, x_u, x_m])).softmax(1)
                unc_u = entropy_log10(p[b_l:b_l + b_u]) > DEFAULT_TAU
                unc_m = entropy_log10(p[b_l + b_u:]) > DEFAULT_TAU
                per = lambda m: " / ".join(f"{float(v):.2f}" for v in m.float().flatten(1).mean(1))
                print(f"| {t} | {'on' if dropout else 'off'} | {draw} | {per(unc_u)} | {per(unc_m)} | "
                      f"{float((unc_u | unc_m).float().mean()):.3f} | {float((unc_u & unc_m).float().mean()):.3f} |",
                      flush=True)


if __name__ == "__main__":
    main()
