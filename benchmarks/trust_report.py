"""Stage 4 of benchmarks/trust.py: the tables of docs/trust.md and its plot, from ``<out>/analysis``."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GROUPS = [("demo model, its own family", lambda r: r["model"] == "demo" and r["cohort"] == "demo-default"),
          ("demo model, hard family (a shift)", lambda r: r["model"] == "demo" and r["cohort"] == "demo-hard"),
          ("short runs (supervised seeds, 1 SGRS, 2 early-stopped), hard family",
           lambda r: r["model"].startswith(("m0-s", "early-s")) or r["model"] == "sgrs-s0"),
          ("collapsed models", lambda r: r["collapsed"])]
SCORES = [("entropy", "entropy (the product's map)"), ("entropy+theta", "Θ first, then entropy"),
          ("tta-entropy", "flip-TTA entropy (4 passes)"),
          ("tta-variance", "flip-TTA variance (4 passes)")]
BINARY = [("delta-theta", "Δ∪Θ"), ("delta", "Δ"), ("theta", "Θ")]
FAIL_DICE = 0.7


def load(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "analysis").glob("*.json"))]


def cases_of(results, pick) -> list[dict]:
    return [c for r in results if pick(r) and not r.get("dice_only") for c in r["cases"].values()]


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def budget_table(results, budgets) -> list[str]:
    head = "| cases | map | " + " | ".join(f"{100 * b:g} % of volume" for b in budgets) + " |"
    lines = [head, "|---|---|" + "---|" * len(budgets)]
    for name, pick in GROUPS:
        cases = cases_of(results, pick)
        errors = sum(c["errors"] for c in cases)
        if not cases or not errors:
            continue
        for key, label in SCORES:
            found = np.sum([c["budget"][key] for c in cases], axis=0) / errors
            lines.append(f"| {name} ({len(cases)}; {errors:,} error voxels) | {label} | "
                         + " | ".join(pct(v) for v in found) + " |")
    return lines


def binary_table(results) -> list[str]:
    lines = ["| cases | map | volume reviewed | errors found | entropy, equal volume | flip-TTA entropy, equal volume |",
             "|---|---|---|---|---|---|"]
    for name, pick in GROUPS:
        cases = cases_of(results, pick)
        errors, voxels = sum(c["errors"] for c in cases), sum(c["voxels"] for c in cases)
        if not cases or not errors:
            continue
        for key, label in BINARY:
            b = [c["binary"][key] for c in cases]
            lines.append(f"| {name} | {label} | {pct(sum(x['volume'] for x in b) / voxels)} | "
                         f"{pct(sum(x['found'] for x in b) / errors)} | {pct(sum(x['entropy_equal'] for x in b) / errors)} | "
                         f"{pct(sum(x['tta-entropy_equal'] for x in b) / errors)} |")
    return lines


def region_curve(cases, map_name, ks):
    errors, voxels = sum(c["errors"] for c in cases), sum(c["voxels"] for c in cases)
    found = [sum(sum(c["regions"][map_name]["found"][:k]) for c in cases) / errors for k in ks]
    volume = [sum(sum(c["regions"][map_name]["volume"][:k]) for c in cases) / voxels for k in ks]
    return found, volume


def region_table(results, ks=(1, 3, 5, 10, 20, 50)) -> list[str]:
    lines = ["| cases | regions from | " + " | ".join(f"top {k}" for k in ks) + " |", "|---|---|" + "---|" * len(ks)]
    for name, pick in GROUPS:
        cases = cases_of(results, pick)
        if not cases or not sum(c["errors"] for c in cases):
            continue
        for map_name, label in (("entropy", "entropy ≥ q_min (default)"), ("entropy+theta", "entropy ≥ q_min ∪ Θ"),
                                ("delta-theta", "Δ∪Θ")):
            if map_name not in cases[0]["regions"]:
                continue
            found, volume = region_curve(cases, map_name, ks)
            lines.append(f"| {name} | {label} | " + " | ".join(f"{pct(f)} ({pct(v)})" for f, v in zip(found, volume)) + " |")
    return lines


def threshold_table(results, qs=(0.05, 0.1, 0.2, 0.3, 0.4)) -> list[str]:
    """The entropy map thresholded at q_min: volume marked and errors inside, from the level histograms."""
    from sgrs.inference.review import level_of_q

    lines = ["| cases | " + " | ".join(f"q ≥ {q:g}" for q in qs) + " |", "|---|" + "---|" * len(qs)]
    for name, pick in GROUPS:
        cases = [c for c in cases_of(results, pick) if "levels" in c]
        errors, voxels = sum(c["errors"] for c in cases), sum(c["voxels"] for c in cases)
        if not cases or not errors:
            continue
        cells = []
        for q in qs:
            lv = level_of_q(q)
            marked = sum(sum(c["levels"]["all"][lv:]) for c in cases) / voxels
            found = sum(sum(c["levels"]["errors"][lv:]) for c in cases) / errors
            cells.append(f"{pct(found)} in {pct(marked)}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def calibration_table(results, edges=(0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)) -> list[str]:
    """How often a voxel the model calls q-likely wrong is wrong: the models' calibration."""
    from sgrs.inference.review import Q_OF_LEVEL

    lines = ["| cases | " + " | ".join(f"q {a:g}–{b:g}" for a, b in zip(edges, edges[1:])) + " |",
             "|---|" + "---|" * (len(edges) - 1)]
    for name, pick in GROUPS[:3]:
        cases = [c for c in cases_of(results, pick) if "levels" in c]
        if not cases:
            continue
        n = np.sum([c["levels"]["all"] for c in cases], axis=0)
        e = np.sum([c["levels"]["errors"] for c in cases], axis=0)
        cells = []
        for a, b in zip(edges, edges[1:]):
            sel = (Q_OF_LEVEL >= a) & (Q_OF_LEVEL < b + (1e-6 if b == 0.5 else 0))
            cells.append(f"{pct(e[sel].sum() / n[sel].sum())}" if n[sel].sum() else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def flag_rows(results) -> list[dict]:
    """Per case: Dice and the flag's measures, the expected-error share recomputed from the level
    histogram at the product's q_min (so a change of q_min needs no new analysis)."""
    from sgrs.inference.review import DEFAULT_Q_MIN, Q_OF_LEVEL, level_of_q

    lv = level_of_q(DEFAULT_Q_MIN)
    rows = []
    for r in results:
        if r.get("dice_only"):
            continue
        for cid, c in r["cases"].items():
            m = dict(c["summary"]["review"]["measures"])
            if "levels" in c and c["pred"]:
                m["expected_error_share"] = float(np.dot(c["levels"]["all"][lv:], Q_OF_LEVEL[lv:]) / c["pred"])
            rows.append({"model": r["model"], "cohort": r["cohort"], "collapsed": r["collapsed"], "dice": c["dice"],
                         "case": cid, "measures": m})
    return rows


def calibrate(rows) -> dict:
    """Rules that flag the most Dice < 0.7 cases while flagging the fewest good ones (Youden's J of
    'not ok'), with no good case 'likely failed' where possible; ties: more collapsed cases 'likely failed'."""
    import itertools

    errs = sorted({round(r["measures"]["expected_error_share"], 3) for r in rows
                   if r["measures"].get("expected_error_share") is not None})
    grid = {"error_review": [e + 1e-4 for e in errs[::max(1, len(errs) // 40)]] + [1e9],
            "volume_review": [1.25, 1.5, 2.0], "volume_failed": [2.0, 3.0, 5.0],
            "fragment_review": [0.05, 0.1, 0.2, 0.4, 1e9]}
    best, best_key = None, None
    for er, vr, vf, fr in itertools.product(*grid.values()):
        if vf <= vr:
            continue
        for ef in [e for e in grid["error_review"] if e >= er][::3]:
            rules = {"error_review": er, "error_failed": ef, "volume_review": vr, "volume_failed": vf,
                     "fragment_review": fr}
            st = flag_stats(rows, rules)
            j = st["sens_flag"][0] + st["spec_flag"][0] - 1
            key = (-st["good_failed"][0] > -0.02, round(j, 4), st["collapsed_failed"][0], st["sens_failed"][0])
            if best_key is None or key > best_key:
                best, best_key = rules, key
    return best


def flag_stats(rows, rules=None) -> dict:
    from sgrs.inference.case_flag import OK, case_flag

    flags = [case_flag(r["measures"], rules).flag for r in rows]
    bad = [r["dice"] < FAIL_DICE for r in rows]
    good = [not b and not r["collapsed"] for r, b in zip(rows, bad)]
    collapsed = [r["collapsed"] for r in rows]

    def rate(sel, cond):
        n = sum(sel)
        return (sum(1 for s, c in zip(sel, cond) if s and c) / n if n else float("nan")), n

    return {"sens_flag": rate(bad, [f != OK for f in flags]), "spec_flag": rate(good, [f == OK for f in flags]),
            "sens_failed": rate(bad, [f == "likely failed" for f in flags]),
            "collapsed_flag": rate(collapsed, [f != OK for f in flags]),
            "collapsed_failed": rate(collapsed, [f == "likely failed" for f in flags]),
            "good_failed": rate(good, [f == "likely failed" for f in flags])}


def flag_table(rows, rules=None) -> list[str]:
    s = flag_stats(rows, rules)
    f = lambda k: f"{pct(s[k][0])} (of {s[k][1]})"
    return ["| what | rate |", "|---|---|",
            f"| Dice < {FAIL_DICE}: flagged `review` or `likely failed` (sensitivity) | {f('sens_flag')} |",
            f"| Dice < {FAIL_DICE}: flagged `likely failed` | {f('sens_failed')} |",
            f"| Dice ≥ {FAIL_DICE}, not collapsed: flagged `ok` (specificity) | {f('spec_flag')} |",
            f"| Dice ≥ {FAIL_DICE}, not collapsed: flagged `likely failed` (false alarm) | {f('good_failed')} |",
            f"| collapsed models' cases: flagged `review` or `likely failed` | {f('collapsed_flag')} |",
            f"| collapsed models' cases: flagged `likely failed` | {f('collapsed_failed')} |"]


def two_fold(rows) -> list[str]:
    halves = [[r for i, r in enumerate(rows) if i % 2 == k] for k in (0, 1)]
    lines = []
    for k in (0, 1):
        rules = calibrate(halves[k])
        st = flag_stats(halves[1 - k], rules)
        lines.append(f"- calibrated on fold {k}, tested on fold {1 - k}: sensitivity {pct(st['sens_flag'][0])} "
                     f"(of {st['sens_flag'][1]}), specificity {pct(st['spec_flag'][0])} (of {st['spec_flag'][1]}), "
                     f"collapsed 'likely failed' {pct(st['collapsed_failed'][0])} (of {st['collapsed_failed'][1]})")
    return lines


def measure_table(rows) -> list[str]:
    """Each measure's spread for good and bad cases: what the thresholds were chosen from."""
    keys = ["expected_error_share", "uncertain_share", "volume_ratio", "fragment_share"]
    lines = ["| cases | n | " + " | ".join(f"{k} (median [min, max])" for k in keys) + " |",
             "|---|---|" + "---|" * len(keys)]
    for label, sel in ((f"Dice ≥ {FAIL_DICE}", lambda r: r["dice"] >= FAIL_DICE and not r["collapsed"]),
                       (f"Dice < {FAIL_DICE}, not collapsed", lambda r: r["dice"] < FAIL_DICE and not r["collapsed"]),
                       ("collapsed", lambda r: r["collapsed"])):
        group = [r for r in rows if sel(r)]
        cells = []
        for k in keys:
            v = [r["measures"][k] for r in group if r["measures"].get(k) is not None]
            cells.append(f"{np.median(v):.3f} [{min(v):.3f}, {max(v):.3f}]" if v else "—")
        lines.append(f"| {label} | {len(group)} | " + " | ".join(cells) + " |")
    return lines


def per_model_table(results) -> list[str]:
    from sgrs.inference.case_flag import case_flag

    lines = ["| model | cohort | cases | mean Dice | cases with Dice < 0.7 | ok / review / likely failed |",
             "|---|---|---|---|---|---|"]
    for r in results:
        if r.get("dice_only"):
            continue
        d = [c["dice"] for c in r["cases"].values()]
        flags = [case_flag(c["summary"]["review"]["measures"]).flag for c in r["cases"].values()]
        lines.append(f"| {r['model']}{' (collapsed)' if r['collapsed'] else ''} | {r['cohort']} | {len(d)} | "
                     f"{np.mean(d):.3f} | {sum(x < FAIL_DICE for x in d)} | {flags.count('ok')} / "
                     f"{flags.count('review')} / {flags.count('likely failed')} |")
    return lines


def t_interval(d):
    from benchmarks.method.ssl_gain import t_interval as paired  # the powered benchmark's 95 % t-interval

    return paired(np.asarray(d, float))


def al_table(results, out: Path) -> tuple[list[str], dict]:
    from trust import AL_ARMS

    dice = {}
    for r in results:
        for prefix in ("m0",) + tuple(f"al-{a}" for a in AL_ARMS):
            if r["model"].startswith(prefix + "-s") and r["model"][len(prefix) + 2:].isdigit():
                dice.setdefault(prefix, {})[int(r["model"][len(prefix) + 2:])] = \
                    float(np.mean([c["dice"] for c in r["cases"].values()]))
    seeds = sorted(set.intersection(*(set(v) for v in dice.values()))) if dice else []
    lines = ["| arm | seeds | test Dice (mean ± sd) | − random (paired, 95 % CI) | per seed |", "|---|---|---|---|---|"]
    summary = {}
    base = dice.get("al-random", {})
    for arm in ("m0",) + tuple(f"al-{a}" for a in AL_ARMS):
        v = np.array([dice.get(arm, {}).get(s, np.nan) for s in seeds])
        if not len(v) or np.isnan(v).any():
            continue
        diff = "—"
        if arm != "al-random" and base:
            m, lo, hi = t_interval([dice[arm][s] - base[s] for s in seeds])
            diff = f"{m:+.4f} [{lo:+.4f}, {hi:+.4f}]"
            summary[arm] = {"mean": m, "ci95": [lo, hi]}
        label = "start (2 labelled)" if arm == "m0" else f"+2 by {arm[3:]}"
        lines.append(f"| {label} | {len(seeds)} | {v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0:.4f} | {diff} | "
                     + " / ".join(f"{x:.3f}" for x in v) + " |")
    if all(a in dice for a in ("al-entropy", "al-delta-theta")):
        m, lo, hi = t_interval([dice["al-entropy"][s] - dice["al-delta-theta"][s] for s in seeds])
        summary["entropy - delta-theta"] = {"mean": m, "ci95": [lo, hi]}
        lines.append(f"| entropy − Δ∪Θ (paired) | {len(seeds)} | | {m:+.4f} [{lo:+.4f}, {hi:+.4f}] | |")
    picks = []
    for s in seeds:
        p = out / "runs" / "picks" / f"seed{s}.json"
        if p.exists():
            chosen = json.loads(p.read_text())["picks"]
            picks.append(f"seed {s}: " + "; ".join(f"{a} {', '.join(chosen[a])}" for a in AL_ARMS))
    return lines + [""] + [f"- {p}" for p in picks], summary


def plot(results, path: Path, budgets) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    panels = [g for g in GROUPS[:3] if cases_of(results, g[1])]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for ax, (name, pick) in zip(axes[0], panels):
        cases = cases_of(results, pick)
        errors, voxels = sum(c["errors"] for c in cases), sum(c["voxels"] for c in cases)
        x = [100 * b for b in budgets]
        for key, label in SCORES:
            ax.plot(x, [100 * v for v in np.sum([c["budget"][key] for c in cases], axis=0) / errors], marker="o",
                    ms=3, label=label)
        for key, label in BINARY[:1]:
            b = [c["binary"][key] for c in cases]
            ax.plot(100 * sum(v["volume"] for v in b) / voxels, 100 * sum(v["found"] for v in b) / errors, "k*",
                    ms=10, label=f"{label} region map")
        ks = list(range(1, 51))
        for map_name, style, label in (("entropy", "--", "review list (entropy), top k"),
                                       ("delta-theta", ":", "review list (Δ∪Θ), top k")):
            f, v = region_curve(cases, map_name, ks)
            ax.plot([100 * u for u in v], [100 * u for u in f], style, color="grey" if map_name == "entropy" else "k",
                    label=label)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("volume reviewed (% of the scan)")
        ax.set_ylabel("error voxels found (%)")
        ax.set_title(name, fontsize=9)
        ax.set_ylim(0, 101)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_report(out: Path, args, machine: str) -> Path:
    from trust import SHORT
    from trust_analysis import BUDGETS

    results = load(out)
    rows = flag_rows(results)
    calibrated = calibrate(rows) if rows else {}
    calibrated = {k: round(v, 4) for k, v in calibrated.items()}
    al_lines, al_summary = al_table(results, out)
    png = ROOT / "docs" / "trust.png"
    plot(results, png, BUDGETS)
    text = "\n".join([
        f"Settings: demo model (Resources/Demo/model) on {args.demo_test} fresh phantoms of its own family and "
        f"{args.demo_test} of the hard family, both on its 64×64×48 @ 1.25 mm grid; short runs: V-Net "
        f"{SHORT['filters']} filters, patch {SHORT['patch']}, batch {SHORT['batch']}, {SHORT['method']} "
        f"{SHORT['iterations']} iterations from 2 labelled hard phantoms (48×48×40), {args.seeds} seeds; one SGRS run "
        f"(default recipe, {SHORT['sgrs_iterations']} iterations, + {args.unlabelled} unlabelled); active learning: "
        f"each seed's start model fine-tuned {SHORT['finetune']} iterations on its 2 + 2 picked cases; "
        f"{args.test} test phantoms; machine {machine}.", "",
        "### Errors found at equal reviewed volume", "", *budget_table(results, BUDGETS), "",
        "### The region maps, against entropy at the same volume", "", *binary_table(results), "",
        "### The review list: errors found after the top k regions (volume reviewed)", "", *region_table(results), "",
        "### The entropy map's threshold: errors inside, in the volume marked", "", *threshold_table(results), "",
        "### Calibration: share of voxels wrong, by the model's own error probability q", "",
        *calibration_table(results), "",
        "### Case flag", "", "With the rules in sgrs/inference/case_flag.py:", "", *flag_table(rows), "",
        f"Rules this benchmark calibrates (in sample): `{calibrated}`", "", *flag_table(rows, calibrated), "",
        "Two-fold check (rules calibrated on the even cases, applied to the odd ones, and back):", "",
        *two_fold(rows), "", "Measures (no ground truth) by case quality:", "",
        *measure_table(rows), "", "Per model:", "", *per_model_table(results), "",
        "### Active learning", "", *al_lines, ""])
    (out / "report.md").write_text(text)
    (out / "report.json").write_text(json.dumps({"al": al_summary, "flag": flag_stats(rows) if rows else {},
                                                  "calibrated_rules": calibrated}, indent=1))
    print(text)
    return out / "report.md"
