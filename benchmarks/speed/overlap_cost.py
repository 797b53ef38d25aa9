"""What coarser window grids cost (issue 17, item 2): Dice and the trust measures of
docs/trust.md, per setting, on phantom cases the demo model never saw.

A setting is ``PLAIN/MIXED``: the window overlap of the plain view (the label, the entropy map, the
review list, the case flag) and of the region maps' mixed view. Per case and setting, one process,
the order of the settings alternating: Dice against the truth; the share of the error voxels (label
XOR truth) in the top 0.5 / 1 / 2 % of the volume by the entropy map; the share inside the review
list and the volume it covers; the Δ∪Θ map's volume and the errors in it; the Θ and Δ shares; the
voxels whose region differs from the first setting's; the case flag. Paired differences against
the first setting with a 95 % t-interval. Both phantom families (the demo model's own, and the hard
one: a shift). The default size 138×138×92 puts the demo model's 48×48×32 windows at exactly
overlap 0.375 and 0.25 (64 positions) and at 0.5 at an effective 0.53 (125 positions).

    python benchmarks/speed/overlap_cost.py [--settings 0.5/0.5 0.5/0.25 0.25/0.25] [--cases 20]

The default settings: before issue 17's end (0.5/0.5), the default since (0.5/0.25), ``--fast``
(0.25/0.25).
"""
import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))   # trust_analysis.py (found_at_count)
from sgrs.util.threads import passive_openmp  # noqa: E402

passive_openmp()  # as the engine's processes do (docs/benchmarks.md): before torch is imported
import numpy as np  # noqa: E402
import torch  # noqa: E402

from sgrs.data.image_io import Geometry  # noqa: E402
from sgrs.data.phantom import make_case  # noqa: E402
from sgrs.evaluation.metrics import dice  # noqa: E402
from sgrs.inference.case_flag import case_flag  # noqa: E402
from sgrs.inference.maps import DELTA, THETA  # noqa: E402
from sgrs.inference.review import region_members  # noqa: E402
from sgrs.inference.segment import SegmentOptions, segment_array  # noqa: E402
from sgrs.inference.sliding import count_windows  # noqa: E402
from sgrs.models.bundle import load_bundle  # noqa: E402
from trust_analysis import found_at_count  # noqa: E402

DEMO = ROOT / "Resources" / "Demo" / "model"
BUDGETS = (0.005, 0.01, 0.02)
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
       10: 2.228, 11: 2.201, 12: 2.179, 14: 2.145, 15: 2.131, 19: 2.093, 24: 2.064, 29: 2.045}
# the grids docs/trust.md measured on (demo model; short runs), with their patches
TRUST_GRIDS = {"demo model": ((64, 64, 48), (48, 48, 32)), "short runs": ((48, 48, 40), (32, 32, 32))}


def interval(diffs):
    mean, sd = statistics.mean(diffs), statistics.stdev(diffs)
    half = T95.get(len(diffs) - 1, 1.96) * sd / len(diffs) ** 0.5
    return mean, sd, mean - half, mean + half


def measure(seg, truth, geometry) -> dict:
    pred, truth = seg.label > 0, truth > 0
    flagged = np.isin(seg.regions, (DELTA, THETA))
    errors = pred ^ truth
    n_err = max(int(errors.sum()), 1)
    listed = region_members(seg.entropy, seg.regions, geometry)
    in_list = sum(int(errors[i[:, 0], i[:, 1], i[:, 2]].sum()) for i in listed)
    measures = seg.summary["review"]["measures"]
    return {"dice": dice(pred, truth), "errors": int(errors.sum()),
            "found": [found_at_count(seg.entropy, errors, b * errors.size) / n_err for b in BUDGETS],
            "list_found": in_list / n_err, "list_volume": sum(len(i) for i in listed) / errors.size,
            "dt_volume": float(flagged.mean()), "dt_found": int((flagged & errors).sum()) / n_err,
            "dt_entropy": found_at_count(seg.entropy, errors, int(flagged.sum())) / n_err,
            "theta": float((seg.regions == THETA).mean()), "delta": float((seg.regions == DELTA).mean()),
            "flag": seg.summary["case_flag"], "expected_error": measures["expected_error_share"],
            # these phantoms are larger than the demo model's training cases, so the volume rule flags
            # every one; the flag's other rules are what an overlap can move
            "flag_other_rules": case_flag({**measures, "volume_ratio": None}).flag}


def table(rows: dict, family: str) -> None:
    base = next(iter(rows))
    print(f"\n#### {family}\n")
    print("| plain / mixed overlap | windows plain + mixed | s per case (median) | Dice (mean ± sd) "
          "| errors in top 0.5 / 1 / 2 % by entropy | errors in the review list (volume) "
          "| errors in Δ∪Θ (volume; entropy at that volume) | Θ / Δ share of the volume "
          f"| regions ≠ {base}, % of the volume (of it inside the label) | expected-error share "
          f"| flag ≠ {base} (without the volume rule) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        d = [x["dice"] for x in r]
        found = " / ".join(f"{100 * statistics.mean(x['found'][k] for x in r):.1f} %" for k in range(len(BUDGETS)))
        flags = sum(x["flag"] != y["flag"] for x, y in zip(r, rows[base]))
        other = sum(x["flag_other_rules"] != y["flag_other_rules"] for x, y in zip(r, rows[base]))
        pct = lambda key: 100 * statistics.mean(x[key] for x in r)  # noqa: E731
        print(f"| {name} | {r[0]['windows']} | {statistics.median(x['seconds'] for x in r):.1f} | "
              f"{statistics.mean(d):.4f} ± {statistics.stdev(d):.4f} | {found} | "
              f"{pct('list_found'):.1f} % ({pct('list_volume'):.2f} %) | "
              f"{pct('dt_found'):.1f} % ({pct('dt_volume'):.2f} %; {pct('dt_entropy'):.1f} %) | "
              f"{pct('theta'):.3f} / {pct('delta'):.2f} % | "
              f"{pct('regions_changed'):.3f} % ({pct('regions_changed_fg'):.3f} %) | "
              f"{statistics.mean(x['expected_error'] or 0 for x in r):.3f} | {flags} ({other}) of {len(r)} |")
    for name, r in list(rows.items())[1:]:
        parts = []
        for what, get in (("Dice", lambda x: x["dice"]), ("errors in top 1 %", lambda x: x["found"][1]),
                          ("errors in the review list", lambda x: x["list_found"]),
                          ("errors in Δ∪Θ", lambda x: x["dt_found"]), ("Δ∪Θ volume", lambda x: x["dt_volume"]),
                          ("expected-error share", lambda x: x["expected_error"] or 0.0)):
            mean, sd, lo, hi = interval([get(x) - get(y) for x, y in zip(r, rows[base])])
            parts.append(f"{what} {mean:+.4f} (sd {sd:.4f}, 95 % CI [{lo:+.4f}, {hi:+.4f}])")
        speed = statistics.median(y["seconds"] / x["seconds"] for x, y in zip(r, rows[base]))
        print(f"\n{name} − {base}, paired over {len(r)} cases: " + "; ".join(parts)
              + f"; speed-up per case median {speed:.2f}×")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--settings", nargs="+", default=["0.5/0.5", "0.5/0.25", "0.25/0.25"],
                    help="PLAIN/MIXED window overlaps; the first is the baseline")
    ap.add_argument("--cases", type=int, default=20, help="per family")
    ap.add_argument("--families", nargs="+", default=["default", "hard"])
    ap.add_argument("--size", type=int, nargs=3, default=[138, 138, 92])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bundle = load_bundle(DEMO)
    spacing = tuple(bundle.meta["spacing"])
    print(f"machine: {platform.machine()}, {args.threads} threads, torch {torch.__version__}; demo model; "
          f"{args.cases} phantom cases per family of {tuple(args.size)} at {spacing} mm (seed {args.seed}); "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    settings = {s: tuple(float(v) for v in s.split("/")) for s in args.settings}
    overlaps = sorted({v for pair in settings.values() for v in pair}, reverse=True)
    for name, (size, patch) in TRUST_GRIDS.items():
        counts = {o: count_windows(size, patch, o) for o in overlaps}
        print(f"docs/trust.md's {name} grid {size}, patch {patch}: windows per overlap {counts}")
    for family in args.families:
        rows = {s: [] for s in settings}
        for i in range(args.cases):
            image, truth, _ = make_case(i, args.seed, size=tuple(args.size), spacing=spacing, family=family)
            geometry = Geometry(tuple(args.size), spacing, (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
            order = list(settings) if i % 2 == 0 else list(settings)[::-1]
            regions = {}
            for name in order:
                plain, mixed = settings[name]
                t0 = time.perf_counter()
                seg = segment_array(image, geometry, bundle,
                                    SegmentOptions(device="cpu", overlap=plain, mixed_overlap=mixed))
                seconds = time.perf_counter() - t0
                net = seg.summary["scan"]["network"]
                regions[name] = (seg.regions, seg.label > 0)
                rows[name].append({**measure(seg, truth, geometry), "seconds": seconds,
                                   "windows": f"{net['windows_plain']} + {net['windows_mixed']}"})
            base_regions, _ = regions[next(iter(settings))]
            for name in settings:
                changed = regions[name][0] != base_regions
                rows[name][-1].update(regions_changed=float(changed.mean()),
                                      regions_changed_fg=float((changed & regions[name][1]).mean()))
            done = (f"{k}: Dice {r[-1]['dice']:.4f}, {r[-1]['flag_other_rules']}, {r[-1]['seconds']:.1f} s"
                    for k, r in rows.items())
            print(f"# {family} case {i}: " + ", ".join(done), flush=True)
        table(rows, f"{family} family ({args.cases} cases)")
    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
