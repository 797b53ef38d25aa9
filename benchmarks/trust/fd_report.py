"""Tables of benchmarks/trust/failure_detection.py, from ``<out>/cases``: every score, every kind of
shift, and the flags with thresholds calibrated on the other kinds (held-out results marked)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fd_metrics import FAIL_DICE, Logistic, aurc, auroc, bootstrap, sens_spec, spearman

SCORES = [("expected_error_share", "expected-error share (today's flag)"),
          ("volume_out", "volume outside the training range (today's flag)"),
          ("fragment_share", "detached share (today's flag)"),
          ("uncertain_share", "Δ∪Θ share"),
          ("mean_entropy", "mean entropy"),
          ("non_boundary_entropy", "non-boundary entropy"),
          ("view_disagreement", "plain/mixed view disagreement"),
          ("feature_distance", "feature distance (Mahalanobis, PCA)"),
          ("feature_knn", "feature distance (3 nearest neighbours, PCA)"),
          ("tta_disagreement", "flip-TTA disagreement (opt-in)")]
DEFAULT_PATH = ("expected_error_share", "volume_out", "fragment_share", "uncertain_share", "mean_entropy",
                "non_boundary_entropy", "view_disagreement", "feature_distance", "feature_knn")
COMBINED = ("feature_distance", "feature_knn", "view_disagreement", "expected_error_share", "uncertain_share",
            "fragment_share", "volume_out", "mean_entropy")


def load_cases(out: Path, max_cases: int | None = None) -> list[dict]:
    """The cases on disk; ``max_cases``: only the first this many per model and kind (a run resumed with
    fewer cases keeps the tables balanced)."""
    cases = [json.loads(p.read_text()) for p in sorted((out / "cases").glob("*/*/*.json"))]
    return [c for c in cases if max_cases is None or c["index"] < max_cases]


def score_of(case: dict, name: str) -> float:
    """A score's value as the flag's risk model reads it (risk_score.flag_inputs), higher = worse;
    nothing segmented ranks as worst for every score; unknown counts as 0. ``name@few``: the feature
    distance against statistics of fewer calibration cases (the case's ``feature_few``)."""
    from sgrs.inference.risk_score import flag_inputs

    if case["measures"].get("foreground_ml", 0.0) <= 0:
        return float("inf")
    measures = case["measures"]
    if name.endswith("@few"):
        name = name[:-4]
        measures = {**measures, **{k: v for k, v in case.get("feature_few", {}).items() if k != "cases"}}
    v = flag_inputs(measures).get(name)
    return 0.0 if v is None else float(v)


def matrix(cases, names) -> np.ndarray:
    x = np.array([[score_of(c, n) for n in names] for c in cases], float)
    finite = np.isfinite(x)
    top = np.where(finite, x, -np.inf).max(0) if len(x) else 0
    return np.where(finite, x, np.maximum(top, 0) * 2 + 10)  # nothing segmented: beyond every case


def fmt(v, ci=None, pct=False) -> str:
    if v is None:
        return "—"
    f = (lambda a: f"{100 * a:.0f} %") if pct else (lambda a: f"{a:.3f}")
    if ci is None or ci[0] is None:
        return f(v)
    return f"{f(v)} [{f(ci[0])}, {f(ci[1])}]"


def cases_table(cases, kinds) -> list[str]:
    models = sorted({c["model"] for c in cases})
    rows = ["| model | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for m in models:
        cells = []
        for k in kinds:
            d = [c["dice"] for c in cases if c["model"] == m and c["kind"] == k]
            cells.append(f"{np.mean(d):.2f} ({sum(x < FAIL_DICE for x in d)}/{len(d)})" if d else "—")
        rows.append(f"| {m} | " + " | ".join(cells) + " |")
    return rows


def held_out_logistic(cases, columns) -> np.ndarray:
    """Each case's logistic score from the model fitted on the other kinds (leave one kind out)."""
    failed = np.array([c["dice"] < FAIL_DICE for c in cases])
    kind_of = np.array([c["kind"] for c in cases])
    x = matrix(cases, columns)
    out = np.zeros(len(cases))
    for k in np.unique(kind_of):
        cal = kind_of != k
        if failed[cal].all() or not failed[cal].any():
            continue
        out[kind_of == k] = Logistic().fit(x[cal], failed[cal].astype(float)).score(x[kind_of == k])
    return out


def score_table(cases, names) -> list[str]:
    dice = np.array([c["dice"] for c in cases])
    risk, failed = 1 - dice, dice < FAIL_DICE
    x = matrix(cases, [n for n, _ in names])
    x = np.c_[x, held_out_logistic(cases, list(COMBINED)),
              held_out_logistic(cases, list(COMBINED) + ["tta_disagreement"])]
    names = list(names) + [("", "logistic, default-path scores (HELD-OUT: fitted on the other kinds)"),
                           ("", "logistic + flip TTA, opt-in (HELD-OUT)")]
    rows = ["| score | AURC (lower is better) | AUROC, Dice < 0.7 | Spearman ρ(score, Dice) |", "|---|---|---|---|"]
    for j, (_, label) in enumerate(names):
        s = x[:, j]
        rows.append(f"| {label} | {fmt(aurc(s, risk), bootstrap(aurc, s, risk))} | "
                    f"{fmt(auroc(s, failed), bootstrap(auroc, s, failed))} | "
                    f"{fmt(spearman(s, dice), bootstrap(spearman, s, dice))} |")
    rows.append(f"| (oracle: Dice itself) | {aurc(risk, risk):.3f} | 1 | −1 |")
    return rows


def kind_auroc_table(cases, names, kinds) -> list[str]:
    rows = ["| score | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for name, label in names:
        cells = []
        for k in kinds:
            sub = [c for c in cases if c["kind"] == k]
            a = auroc(matrix(sub, [name])[:, 0], np.array([c["dice"] < FAIL_DICE for c in sub])) if sub else None
            cells.append(fmt(a))
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


# the flag before issue 26 (sgrs/inference/case_flag.py's RULES then), recomputed from the measures
TODAY = {"error_review": 1.0, "error_failed": 5.0, "volume_review": 2.0, "volume_failed": 3.0,
         "fragment_review": 0.2, "risk": None}
# the rules every candidate keeps: nothing segmented, volume 3× outside the training range, Σ q 5× the
# structure (all "likely failed"); the softer rules are the risk model's inputs instead
HARD = {"error_review": None, "error_failed": 5.0, "volume_review": None, "volume_failed": 3.0,
        "fragment_review": None, "risk": None}


def flags_with(cases, rules) -> np.ndarray:
    from sgrs.inference.case_flag import case_flag

    return np.array([case_flag(c["measures"], rules).flag != "ok" for c in cases])


def threshold_with(base: np.ndarray, score: np.ndarray, failed: np.ndarray, spec: float = 0.9) -> float:
    """The lowest t for which (base flag or score > t) leaves ≥ ``spec`` of the good cases unflagged."""
    good = ~failed
    allowed = int(np.floor((1 - spec) * good.sum())) - int((base & good).sum())
    free = np.sort(score[good & ~base])[::-1]
    if allowed < 0 or free.size == 0:
        return float(np.inf) if allowed < 0 else float(score.max())
    return float(free[allowed]) if allowed < free.size else float(free.min() - 1e-9)


def candidates() -> dict:
    """Per candidate flag: (the risk model's inputs, the rules kept beside it, how its threshold is
    set: "spec" = at 90 % specificity with the rules kept; "strict" = above every good calibration case
    the kept rules leave ok, i.e. no new false alarm). Inputs None: the kept rules alone."""
    out = {"today's flag (before issue 26)": (None, TODAY, None)}
    for name, label in SCORES:
        out[f"{label} + hard rules"] = ([name], HARD, "spec")
    out["logistic, default-path scores + hard rules"] = (list(COMBINED), HARD, "spec")
    out["logistic + flip TTA (opt-in) + hard rules"] = (list(COMBINED) + ["tta_disagreement"], HARD, "spec")
    for name in ("feature_distance", "feature_knn", "view_disagreement"):
        out[f"today's flag + {dict(SCORES)[name]} (no new false alarm)"] = ([name], TODAY, "strict")
    out["today's flag + logistic (no new false alarm)"] = (list(COMBINED), TODAY, "strict")
    for spec in (0.9, 0.95):
        for most in (1, 2, 3):
            out[f"hard rules + up to {most} scores, greedy (first at {100 * spec:.0f} % specificity)"] = \
                (list(GREEDY_POOL), HARD, ("greedy", spec, most))
    return out


def fit_rule(cases, columns, kept=None, mode: str = "spec", spec: float = 0.9) -> dict:
    """The risk rule (risk_score.py) fitted on ``cases``: logistic for several inputs, the raw score
    for one; its review threshold at ``spec`` specificity together with the ``kept`` rules ("spec"), or
    just above every good case those rules leave ok ("strict")."""
    kept = HARD if kept is None else kept
    failed = np.array([c["dice"] < FAIL_DICE for c in cases])
    x = matrix(cases, columns)
    if len(columns) == 1:
        rule = {"inputs": columns, "mean": [0.0], "sd": [1.0], "weights": [0.0, 1.0]}
        s = x[:, 0]
    else:
        model = Logistic().fit(x, failed.astype(float))
        rule = {"inputs": columns, "mean": model.mu.tolist(), "sd": model.sd.tolist(), "weights": model.w.tolist()}
        s = model.score(x)
    base = flags_with(cases, kept)
    if mode == "strict":
        free = s[~failed & ~base]
        rule["review"] = float(free.max()) if free.size else float(s.max())
    else:
        rule["review"] = threshold_with(base, s, failed, spec)
    return rule


GREEDY_POOL = ("uncertain_share", "expected_error_share", "view_disagreement", "feature_distance", "feature_knn",
               "fragment_share", "volume_out", "mean_entropy")


def single_rule(name: str, threshold: float) -> dict:
    return {"inputs": [name], "mean": [0.0], "sd": [1.0], "weights": [0.0, 1.0], "review": threshold}


def fit_greedy(cases, kept, spec: float = 0.9, most: int = 3, pool=GREEDY_POOL) -> list[dict]:
    """Rules OR-ed with the kept ones: the single score of best sensitivity at ``spec`` specificity
    first, then (while one adds sensitivity) scores set just above every good case still unflagged."""
    failed = np.array([c["dice"] < FAIL_DICE for c in cases])
    x = matrix(cases, list(pool))
    flagged = flags_with(cases, kept)
    rules = []
    for step in range(most):
        best = None
        for j, name in enumerate(pool):
            if any(r["inputs"] == [name] for r in rules):
                continue
            s = x[:, j]
            if step == 0:
                t = threshold_with(flagged, s, failed, spec)
            else:
                free = s[~failed & ~flagged]
                t = float(free.max()) if free.size else float(s.max())
            now = flagged | (s > t)
            gain = (now & failed).sum() - (flagged & failed).sum()
            if gain > 0 and (best is None or gain > best[0]):
                best = (gain, name, t, now)
        if best is None:
            break
        rules.append(single_rule(best[1], best[2]))
        flagged = best[3]
    return rules


def held_out(cases, kinds, candidate) -> np.ndarray:
    """Leave one kind out: each held-out kind flagged with the rule fitted on the other kinds."""
    flagged = np.zeros(len(cases), bool)
    kind_of = np.array([c["kind"] for c in cases])
    for k in kinds:
        test = np.flatnonzero(kind_of == k)
        if not test.size:
            continue
        sub = [cases[i] for i in test]
        columns, kept, mode = candidate
        if columns is None:
            flagged[test] = flags_with(sub, kept)
            continue
        cal = [c for c in cases if c["kind"] != k]
        rule = fit_greedy(cal, kept, *mode[1:]) if mode[0] == "greedy" else fit_rule(cal, columns, kept, mode)
        flagged[test] = flags_with(sub, {**kept, "risk": rule})
    return flagged


def flag_table(cases, kinds) -> tuple[list[str], dict]:
    failed = np.array([c["dice"] < FAIL_DICE for c in cases])
    rows = ["| flag (HELD-OUT: fitted on the other kinds) | sensitivity (Dice < 0.7 flagged) | "
            "specificity (Dice ≥ 0.7 ok) | failed cases flagged per held-out kind |", "|---|---|---|---|"]
    kind_of = np.array([c["kind"] for c in cases])
    results = {}
    for label, candidate in candidates().items():
        flagged = held_out(cases, kinds, candidate)
        sens, spec = sens_spec(flagged, failed)
        results[label] = (sens, spec, candidate)
        per = []
        for k in kinds:
            f = failed[kind_of == k]
            per.append(f"{k} {flagged[kind_of == k][f].sum()}/{f.sum()}" if f.any() else f"{k} —")
        rows.append(f"| {label} | {fmt(sens, bootstrap(lambda a, b: sens_spec(a, b)[0], flagged, failed), True)} | "
                    f"{fmt(spec, bootstrap(lambda a, b: sens_spec(a, b)[1], flagged, failed), True)} | "
                    f"{', '.join(per)} |")
    return rows, results


BUDGET = 0.10   # issue 26: the default path's added time ≤ 10 % of a segmentation
FEATURE_SCORES = ("feature_distance", "feature_knn")


def time_shares(cases, clock: str = "cpu") -> dict:
    """Per case: the default-path scores' time (all; without the feature pass) over the segmentation's
    (TTA left out). ``clock`` "cpu": this process's CPU seconds, what the work costs (a shared machine's
    other processes do not count); "wall": the wall clock."""
    if clock == "cpu":
        cpu = [c["seconds"].get("cpu") or {} for c in cases]
        seg = np.array([x.get("segmentation", np.nan) for x in cpu])
        added = np.array([x.get("scores", np.nan) for x in cpu])
        feat = np.array([x.get("features", np.nan) for x in cpu])
    else:
        seg = np.array([c["seconds"]["total"] - c["seconds"].get("tta", 0.0) for c in cases])
        added = np.array([c["seconds"].get("scores", 0.0) for c in cases])
        feat = np.array([c["seconds"].get("features", 0.0) for c in cases])
    seg = np.maximum(seg, 1e-6)
    return {"seg": seg, "added": added, "features": feat, "all": added / seg, "no_features": (added - feat) / seg}


def in_budget(cases) -> set:
    """The default-path scores whose path stays within BUDGET of the segmentation's CPU time for every
    case (the slowest included): all of them, or all but the feature distances when only their encoder
    pass breaks it."""
    t = time_shares(cases)
    if not np.isfinite(t["all"]).all():   # cases from before the CPU clock: the wall clock
        t = time_shares(cases, "wall")
    if np.max(t["all"]) <= BUDGET:
        return set(DEFAULT_PATH)
    if np.max(t["no_features"]) <= BUDGET:
        return set(DEFAULT_PATH) - set(FEATURE_SCORES)
    return set()


def timing_table(cases) -> list[str]:
    tta = [c["seconds"].get("tta", 0.0) for c in cases]
    rows = ["| | clock | median | 95th percentile | max |", "|---|---|---|---|---|"]
    notes = []
    for clock in ("cpu", "wall"):
        t = time_shares(cases, clock)
        if not np.isfinite(t["all"]).all():
            continue
        unit = "CPU s" if clock == "cpu" else "s"

        def row(label, v, pct=False):
            f = (lambda a: f"{100 * a:.1f} %") if pct else (lambda a: f"{a:.3f}")
            return f"| {label} | {clock} | {f(np.median(v))} | {f(np.percentile(v, 95))} | {f(np.max(v))} |"
        rows += [row(f"segmentation without TTA ({unit})", t["seg"]),
                 row(f"default-path scores (feature distances, view labels, entropies) ({unit})", t["added"]),
                 row(f"of which the feature pass (one encoder pass) ({unit})", t["features"]),
                 row("the scores' share of the segmentation", t["all"], True),
                 row("the same without the feature pass", t["no_features"], True)]
        slow = int(np.argmax(t["all"]))
        c = cases[slow]
        notes.append(f"Largest share ({clock}): {c['model']} {c['kind']} {c['index']}, {100 * t['all'][slow]:.1f} % "
                     f"(scores {t['added'][slow]:.3f} {unit}, of which the feature pass {t['features'][slow]:.3f}; "
                     f"segmentation {t['seg'][slow]:.3f} {unit}).")
    rows.append(f"| flip TTA (opt-in) (s) | wall | {np.median(tta):.2f} | {np.percentile(tta, 95):.2f} | "
                f"{np.max(tta):.2f} |")
    return rows + [""] + notes


def few_cases_table(cases) -> list[str]:
    """The feature distances with statistics of the first few calibration cases against all of them."""
    sub = [c for c in cases if "feature_few" in c]
    if not sub:
        return []
    few = sub[0]["feature_few"]["cases"]
    failed = np.array([c["dice"] < FAIL_DICE for c in sub])
    risk = 1 - np.array([c["dice"] for c in sub])
    rows = ["| score | statistics of | AURC | AUROC, Dice < 0.7 |", "|---|---|---|---|"]
    for name, label in SCORES:
        if name not in FEATURE_SCORES:
            continue
        for key, what in ((f"{name}@few", f"{few} calibration cases"), (name, "all calibration cases (stored)")):
            s = matrix(sub, [key])[:, 0]
            rows.append(f"| {label} | {what} | {fmt(aurc(s, risk))} | "
                        f"{fmt(auroc(s, failed), bootstrap(auroc, s, failed))} |")
    return rows


def voxel_table(cases) -> list[str]:
    groups = [("own family, the demo model", lambda c: c["kind"] == "own" and c["model"] == "demo"),
              ("under a shift, the demo model", lambda c: c["kind"] != "own" and c["model"] == "demo"),
              ("own family, trained models", lambda c: c["kind"] == "own" and "collapsed" not in c["model"]),
              ("under a shift, trained models", lambda c: c["kind"] != "own" and "collapsed" not in c["model"]),
              ("under a shift, trained models, cases with Dice ≥ 0.7 (the flag's ok side)",
               lambda c: c["kind"] != "own" and "collapsed" not in c["model"] and c["dice"] >= FAIL_DICE)]
    maps = [("entropy", "entropy (default)"), ("view+entropy", "view disagreement, then entropy"),
            ("tta+entropy", "flip-TTA votes, then entropy (opt-in)")]
    rows = ["| cases | map | errors found in 1 % of the volume | in 2 % |", "|---|---|---|---|"]
    for gname, pick in groups:
        sub = [c for c in cases if pick(c) and c["voxels"]["errors"] > 0]
        n_err = sum(c["voxels"]["errors"] for c in sub)
        if not n_err:
            continue
        for key, label in maps:
            if not all(f"{key}@0.01" in c["voxels"] for c in sub):
                continue
            f1 = sum(c["voxels"][f"{key}@0.01"] * c["voxels"]["errors"] for c in sub) / n_err
            f2 = sum(c["voxels"][f"{key}@0.02"] * c["voxels"]["errors"] for c in sub) / n_err
            rows.append(f"| {gname} ({len(sub)}; {n_err:,} error voxels) | {label} | {100 * f1:.1f} % | "
                        f"{100 * f2:.1f} % |")
        ceiling = [sum(min(c["voxels"]["errors"], b * c["voxels"]["volume"]) for c in sub) / n_err
                   for b in (0.01, 0.02)]
        rows.append(f"| {gname} | ceiling (a map that knew the errors) | {100 * ceiling[0]:.1f} % | "
                    f"{100 * ceiling[1]:.1f} % |")
        found = sum(c["voxels"]["review_found"] * c["voxels"]["errors"] for c in sub) / n_err
        vol = np.mean([c["voxels"]["review_volume"] for c in sub])
        rows.append(f"| {gname} | the review list (entropy, q ≥ 0.2) | {100 * found:.1f} % of the errors "
                    f"in {100 * vol:.2f} % of the volume | |")
    return rows


def write_report(out: Path, machine: str, command: str, max_cases: int | None = None) -> Path:
    from sgrs.data.shifts import SHIFTS

    cases = load_cases(out, max_cases)
    kinds = [k for k in ("own",) + SHIFTS if any(c["kind"] == k for c in cases)]
    lines = [f"Cases: {len(cases)} ({', '.join(sorted({c['model'] for c in cases}))}); machine: {machine}; "
             f"command: `python benchmarks/trust/failure_detection.py {command}`", ""]
    if not cases:
        path = out / "report.md"
        path.write_text("\n".join(lines))
        return path
    lines += ["#### Mean Dice per model and kind (failed cases, Dice < 0.7, of all)", ""] + cases_table(cases, kinds)
    trained = [c for c in cases if "collapsed" not in c["model"]]
    lines += ["", "#### Every score, all cases pooled (95 % bootstrap intervals)", ""] + score_table(cases, SCORES)
    lines += ["", "#### Every score, trained models only (the collapsed copy left out)", ""]
    lines += score_table(trained, SCORES)
    lines += ["", "#### AUROC per kind of shift (Dice < 0.7; — where a kind holds one outcome only)", ""]
    lines += kind_auroc_table(cases, SCORES, kinds)
    flags, results = flag_table(cases, kinds)
    lines += ["", "#### The flags, leave one kind out (every number below is HELD-OUT: thresholds calibrated "
                  "on the other kinds at ≥ 90 % specificity)", ""] + flags
    budget = in_budget(cases)
    eligible = {k: v for k, v in results.items() if v[2][0] is None or set(v[2][0]) <= budget}
    ok = {k: v for k, v in eligible.items() if v[1] is not None and v[1] >= 0.9 and v[2][0] is not None}
    best = max(ok or eligible, key=lambda k: ((ok or eligible)[k][0] or 0, (ok or eligible)[k][1] or 0))
    left = sorted(set(DEFAULT_PATH) - budget)
    lines += ["", f"Best default-path flag at ≥ 90 % held-out specificity, among the scores within the time budget "
                  f"(≤ {100 * BUDGET:.0f} % for the slowest case{'; left out: ' + ', '.join(left) if left else ''}; "
                  f"TTA is opt-in): **{best}**."]
    columns, kept, mode = results[best][2]
    if columns:
        final = fit_greedy(cases, kept, *mode[1:]) if isinstance(mode, tuple) else fit_rule(cases, columns, kept, mode)
        lines += ["", "Fitted on every kind (what sgrs/inference/case_flag.py stores): `"
                  + json.dumps({**kept, "risk": final}) + "`"]
        (out / "rules.json").write_text(json.dumps({**kept, "risk": final}, indent=1))
    lines += ["", "#### Time (default path: the scores; TTA opt-in)", ""] + timing_table(cases)
    few = few_cases_table(cases)
    if few:
        lines += ["", "#### Feature statistics: fewer calibration cases against all of them (all cases pooled)", ""]
        lines += few
    lines += ["", "#### Voxel level: error voxels found at equal reviewed volume", ""] + voxel_table(cases)
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    (out / "choice.json").write_text(json.dumps({"best": best, "results": {k: v[:2] for k, v in results.items()}},
                                                indent=1))
    return path
