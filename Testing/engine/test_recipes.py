"""Recipes (default / paper / released), their options, and the region-runaway detector and guards.

Expected values come from hand calculation or from a plain voxel-by-voxel reference written here
with Python loops (no engine code), on tiny two-class cases.
"""
import json
import math

import numpy as np
import pytest
import torch
from conftest import ROOT
from torch import nn

from sgrs.data.cohort import load_cohort
from sgrs.data.sampler import BatchSampler
from sgrs.method import recipes
from sgrs.method.ema import ema_decay, released_noise, update_teacher
from sgrs.method.losses import (
    DiceForm,
    masked_ce,
    regional_terms,
    soft_dice_loss,
    supervised_loss,
)
from sgrs.method.mix import mix_augment, mix_with
from sgrs.method.runaway import RunawayDetector, replay
from sgrs.method.schedule import consistency_weight
from sgrs.method.step import StepConfig, compute_losses, losses_from_logits
from sgrs.method.synergy import entropy_log10, synergy_regions
from sgrs.training.config import TrainConfig

# ---------------------------------------------------------------- recipes as data


def test_every_recipe_sets_every_option_to_an_allowed_value():
    assert set(recipes.RECIPES) == {"default", "paper", "released"}
    for name, values in recipes.RECIPES.items():
        assert set(values) == set(recipes.OPTIONS), name
        for option, value in values.items():
            recipes.check_option(option, value)
    assert recipes.PAPER["dice_classes"] == "all" and recipes.PAPER["dice_denominator"] == "squared"
    assert recipes.PAPER["delta_rule"] == "intersection"
    r = recipes.RELEASED
    assert (r["dice_per_sample"], r["dice_denominator"], r["con_ce_region"], r["teacher_noise"], r["ema"],
            r["student_decay"], r["partner"], r["ramp"], r["mix_noise"], r["batch_draw"]) == \
        (True, "linear", "agree", True, "double", 2e-4, "permutation", "stepwise", True, "permutation")


def test_train_config_resolves_the_recipe_once_and_explicit_options_win(tmp_path):
    cfg = TrainConfig("c", str(tmp_path), recipe="released", delta_rule="intersection", augment=False)
    assert cfg.dice_denominator == "linear" and cfg.ema == "double"      # from the recipe
    assert cfg.delta_rule == "intersection" and cfg.augment is False    # explicit
    assert cfg.recipe_overrides() == {"delta_rule": "intersection", "augment": False}
    saved = cfg.to_json()
    assert saved["recipe"] == "released" and saved["recipe_overrides"] == cfg.recipe_overrides()
    again = TrainConfig.from_json(json.loads(json.dumps(saved)))
    assert again == cfg                                                  # a resumed job continues alike
    summary = again.recipe_summary()
    assert summary["name"] == "released" and summary["options"]["student_decay"] == 2e-4
    step = cfg.step_config()
    assert step.dice == DiceForm("all", "linear", True) and step.delta_rule == "intersection"
    # the default recipe is today's behaviour, and StepConfig's own defaults are the default recipe
    assert TrainConfig("c", str(tmp_path)).step_config() == StepConfig() == StepConfig.from_recipe("default")
    with pytest.raises(ValueError, match="recipe must be one of"):
        TrainConfig("c", str(tmp_path), recipe="nature")
    # the issue-19 benchmark's decision: the reference teacher for every method, unless asked otherwise;
    # a job saved before the teacher was an option resumes with the eval-mode teacher it had
    for method in ("sgrs", "mix", "self-training", "mean-teacher"):
        assert TrainConfig("c", str(tmp_path), method=method).teacher_noise is True
    assert TrainConfig("c", str(tmp_path), teacher_noise=False).recipe_overrides() == {"teacher_noise": False}
    old = {k: v for k, v in TrainConfig("c", str(tmp_path)).to_json().items() if k != "teacher_noise"}
    assert TrainConfig.from_json(old).teacher_noise is False
    bad = TrainConfig("c", str(tmp_path), ramp="linear")
    with pytest.raises(ValueError, match="ramp must be one of"):
        bad.check()


def test_cli_recipe_flags_reach_the_config():
    from sgrs.cli import build_parser
    args = build_parser().parse_args(["train", "--out", "x", "--cohort", "c", "--recipe", "paper",
                                      "--no-augment", "--guard", "delta-ce", "--student-decay", "1e-4"])
    assert args.recipe == "paper" and args.augment is False and args.guard == "delta-ce"
    assert args.student_decay == 1e-4 and args.delta_rule is None  # None = the recipe's value


# ---------------------------------------------------------------- Dice forms by hand


def probs_of(fg):
    fg = torch.tensor(fg, dtype=torch.float64)
    return torch.stack([1 - fg, fg], 1)


def approx(x):
    return pytest.approx(x, rel=1e-5, abs=1e-6)  # the engine computes losses in float32


def test_dice_forms_by_hand():
    # one sample, two voxels: foreground probability 0.8 / 0.2, label 1 / 0, smoothing 1
    p, y = probs_of([[[[0.8, 0.2]]]]), torch.tensor([[[[1, 0]]]])
    # foreground, squared: (2·0.8 + 1) / (0.8² + 0.2² + 1 + 1) = 2.6 / 2.68
    assert soft_dice_loss(p, y, smooth=1.0).item() == approx(1 - 2.6 / 2.68)
    # all classes: the background gives the same by symmetry
    assert soft_dice_loss(p, y, smooth=1.0, classes="all").item() == approx(1 - 2.6 / 2.68)
    # linear (released): (2·0.8 + 1) / (0.8 + 0.2 + 1 + 1) = 2.6 / 3 for each class
    assert soft_dice_loss(p, y, smooth=1.0, classes="all", denominator="linear").item() == approx(1 - 2.6 / 3)
    # released supervised Dice: no factor 2, so a perfect prediction still costs ½ per class
    perfect = probs_of([[[[1.0, 0.0]]]])
    assert soft_dice_loss(perfect, y, smooth=1e-10, classes="all", factor=1.0).item() == approx(0.5)
    logits = torch.tensor([[[[[-40.0, 40.0]]], [[[40.0, -40.0]]]]], dtype=torch.float64)
    assert supervised_loss(logits, y, sup_dice="released").item() == approx(0.25)   # ½(0 + ½)
    assert supervised_loss(logits, y).item() == approx(0.0)


def test_per_sample_dice_differs_from_batch_dice_by_hand():
    # sample 0: p = (0.9, 0.9), y = (1, 1); sample 1: p = (0.1, 0.1), y = (0, 0); foreground only, s = 1
    p, y = probs_of([[[[0.9, 0.9]]], [[[0.1, 0.1]]]]), torch.tensor([[[[1, 1]]], [[[0, 0]]]])
    batch = 1 - (2 * 1.8 + 1) / (0.81 * 2 + 0.01 * 2 + 2 + 1)
    s0 = 1 - (2 * 1.8 + 1) / (1.62 + 2 + 1)
    s1 = 1 - (0 + 1) / (0.02 + 0 + 1)
    assert soft_dice_loss(p, y, smooth=1.0).item() == approx(batch)
    assert soft_dice_loss(p, y, smooth=1.0, per_sample=True).item() == approx((s0 + s1) / 2)


# ---------------------------------------------------------------- each recipe's loss, voxel by voxel

# B_l = B_u = 2 samples of 2×2×2 voxels; foreground probabilities of D_L, D_U, D_M
FG_L = np.array([[0.9, 0.2, 0.7, 0.1, 0.6, 0.3, 0.95, 0.05], [0.8, 0.4, 0.3, 0.6, 0.1, 0.9, 0.2, 0.7]])
Y_L = np.array([[1, 0, 1, 0, 1, 0, 1, 0], [1, 0, 0, 1, 0, 1, 0, 0]])
FG_U = np.array([[0.9, 0.9, 0.1, 0.5, 0.9, 0.5, 0.1, 0.45], [0.7, 0.2, 0.8, 0.52, 0.3, 0.95, 0.6, 0.05]])
FG_M = np.array([[0.9, 0.2, 0.1, 0.9, 0.5, 0.5, 0.8, 0.3], [0.75, 0.3, 0.1, 0.55, 0.35, 0.9, 0.3, 0.2]])
PL = np.array([[1, 1, 0, 1, 1, 0, 0, 0], [1, 0, 1, 1, 0, 1, 1, 0]])


def ref_ce(f, t, eps=0.0):
    p = (1 - f, f)
    return -sum(((1 - eps) * (c == t) + eps / 2) * math.log(p[c]) for c in (0, 1))


def ref_dice(fg, y, mask, smooth, classes, denominator, per_sample, factor=2.0):
    groups = [[(b, v) for v in range(8)] for b in range(2)] if per_sample else [[(b, v) for b in range(2) for v in range(8)]]
    losses = []
    for c in ([0, 1] if classes == "all" else [1]):
        for group in groups:
            inter = den = 0.0
            for b, v in group:
                if not mask[b][v]:
                    continue
                p = fg[b][v] if c == 1 else 1 - fg[b][v]
                t = 1.0 if y[b][v] == c else 0.0
                inter += p * t
                den += (p * p if denominator == "squared" else p) + t
            losses.append(1 - (factor * inter + smooth) / (den + smooth))
    return sum(losses) / len(losses)


def ref_total(opt: dict, step: int, warmup: int, method: str = "sgrs", guard_weight: float = 0.1) -> float:
    """The whole loss of one step from the equations, voxel by voxel."""
    n = 16
    form = (opt["dice_classes"], opt["dice_denominator"], opt["dice_per_sample"])
    ones = [[True] * 8, [True] * 8]
    ce_sup = sum(ref_ce(FG_L[b][v], Y_L[b][v]) for b in range(2) for v in range(8)) / n
    if opt["sup_dice"] == "released":
        d_sup = ref_dice(FG_L, Y_L, ones, 1e-10, "all", "squared", False, factor=1.0)
    else:
        d_sup = ref_dice(FG_L, Y_L, ones, 1e-5, *form)
    sup = 0.5 * (ce_sup + d_sup)
    if method == "self-training":
        ce = sum(ref_ce(FG_U[b][v], PL[b][v]) for b in range(2) for v in range(8)) / n
        unsup = 0.5 * (ce + ref_dice(FG_U, PL, ones, 1e-5, *form))
    else:
        def ent(f):
            return -(f * math.log10(f) + (1 - f) * math.log10(1 - f))
        delta, omega, theta, agree = ([[None] * 8 for _ in range(2)] for _ in range(4))
        for b in range(2):
            for v in range(8):
                unc_u, unc_m = ent(FG_U[b][v]) > 0.296, ent(FG_M[b][v]) > 0.296
                d = (unc_u or unc_m) if opt["delta_rule"] == "union" else (unc_u and unc_m)
                a = (FG_U[b][v] > 0.5) == (FG_M[b][v] > 0.5)   # argmax, ties → background
                delta[b][v], agree[b][v], omega[b][v], theta[b][v] = d, a, a and not d, (not a) and not d
        con_ce_mask = agree if opt["con_ce_region"] == "agree" else omega
        dice_terms, ce_terms = [], []
        for fg in (FG_U, FG_M):
            con = sum(ref_ce(fg[b][v], PL[b][v]) for b in range(2) for v in range(8) if con_ce_mask[b][v]) / n
            nr = sum(ref_ce(fg[b][v], PL[b][v], 0.2) for b in range(2) for v in range(8) if theta[b][v]) / n
            guard = sum(ref_ce(fg[b][v], PL[b][v]) for b in range(2) for v in range(8) if delta[b][v]) / n
            ce_terms.append(con + nr + (guard_weight * guard if opt["guard"] == "delta-ce" else 0.0))
            dice_terms += [ref_dice(fg, PL, omega, 1.0, *form), ref_dice(fg, PL, theta, 20.0, *form)]
        unsup = 0.5 * (sum(dice_terms) / 4 + sum(ce_terms) / 2)
    progress = min(step / warmup, 1.0)
    if opt["ramp"] == "stepwise":
        progress = math.floor(progress * 40) / 40
    return sup + math.exp(-5 * (1 - progress) ** 2) * unsup


def engine_total(cfg: StepConfig, step: int, warmup: int) -> float:
    def logits(fg):
        fg = torch.tensor(fg, dtype=torch.float64).reshape(2, 2, 2, 2)
        return torch.stack([torch.zeros_like(fg), torch.log(fg / (1 - fg))], 1)
    parts = [FG_L, FG_U] + ([FG_M] if cfg.method != "self-training" else [])
    y_l, pl = (torch.tensor(a).reshape(2, 2, 2, 2) for a in (Y_L, PL))
    loss, _ = losses_from_logits(torch.cat([logits(p) for p in parts]), y_l, pl, 2, 2, step, warmup, cfg)
    return loss.item()


@pytest.mark.parametrize("name", ["default", "paper", "released"])
@pytest.mark.parametrize("step", [0, 149, 150, 3000, 7000])
def test_each_recipes_total_loss_matches_the_voxel_by_voxel_reference(name, step):
    cfg = StepConfig.from_recipe(name)
    assert engine_total(cfg, step, 6000) == approx(ref_total(recipes.recipe(name), step, 6000))


def test_recipes_give_different_losses_and_the_reference_knows_why():
    totals = {n: engine_total(StepConfig.from_recipe(n), 7000, 6000) for n in recipes.RECIPES}
    assert len({round(v, 9) for v in totals.values()}) == 3
    # self-training under the released recipe's Dice and ramp, and the delta-ce guard, voxel by voxel
    mt = StepConfig.from_recipe("released", method="self-training")
    assert engine_total(mt, 300, 6000) == approx(ref_total(recipes.RELEASED, 300, 6000, "self-training"))
    guarded = StepConfig.from_recipe("default", guard="delta-ce", guard_weight=0.3)
    opt = {**recipes.DEFAULT, "guard": "delta-ce"}
    assert engine_total(guarded, 7000, 6000) == approx(ref_total(opt, 7000, 6000, guard_weight=0.3))


def test_stepwise_ramp_is_the_released_staircase():
    def released(t):  # ramps.sigmoid_rampup(iter_num // 150, 40)
        phase = 1.0 - min(t // 150, 40) / 40
        return math.exp(-5 * phase * phase)
    for t in (0, 1, 149, 150, 151, 2999, 3000, 5999, 6000, 9000):
        assert consistency_weight(t, 6000, "stepwise") == pytest.approx(released(t))
    assert consistency_weight(149, 6000, "stepwise") == consistency_weight(0, 6000)
    assert consistency_weight(149, 6000, "smooth") > consistency_weight(0, 6000)


# ---------------------------------------------------------------- the other released behaviours


def test_hard_ce_on_every_agreeing_voxel_reaches_delta_only_under_the_released_option():
    fg = FG_U[:1]
    logits = torch.stack([torch.zeros(1, 8), torch.log(torch.tensor(fg / (1 - fg)))], 1).reshape(1, 2, 2, 2, 2)
    logits = logits.double().requires_grad_(True)
    p_u, p_m = probs_of(FG_U[:1].reshape(1, 2, 2, 2)), probs_of(FG_M[:1].reshape(1, 2, 2, 2))
    r = synergy_regions(p_u, p_m)
    agree = p_u.argmax(1) == p_m.argmax(1)
    pl = torch.tensor(PL[:1]).reshape(1, 2, 2, 2)
    terms = regional_terms(logits, pl, r.omega, r.theta, con_ce_mask=agree)
    terms["con_ce"].backward()
    touched = logits.grad.abs().sum(1) > 0
    assert torch.equal(touched, agree)                 # Δ ∩ agreeing voxels get the hard CE
    assert (r.delta & agree).any() and (r.delta & ~agree).any()


def tiny_net():
    net = nn.Sequential(nn.Conv3d(1, 2, 1), nn.BatchNorm3d(2))
    net.train()
    net(torch.randn(2, 1, 2, 2, 2))  # moves the BatchNorm statistics away from their initial values
    return net


def test_double_ema_with_student_decay_by_hand():
    torch.manual_seed(0)
    student, teacher = tiny_net(), tiny_net()
    s0 = {k: v.clone() for k, v in student.state_dict().items()}
    t0 = {k: v.clone() for k, v in teacher.state_dict().items()}
    step, d = 4, 2e-4
    update_teacher(teacher, student, step, 0.99, mode="double", student_decay=d)
    a = ema_decay(step + 1)                             # the released second EMA sees iter_num = t + 1
    assert a == pytest.approx(1 - 1 / 6)
    for k, s in s0.items():
        if not s.is_floating_point():
            continue
        assert torch.allclose(student.state_dict()[k], s * (1 - d))   # the student decays
        first = 0.99 * t0[k] + 0.01 * s                              # WeightEMA, constant 0.99
        is_param = k.endswith(("weight", "bias"))
        expected = a * first + (1 - a) * s * (1 - d) if is_param else first
        assert torch.allclose(teacher.state_dict()[k], expected, atol=1e-7), k


def test_single_ema_with_student_decay_and_no_decay_is_unchanged():
    torch.manual_seed(0)
    student, teacher = tiny_net(), tiny_net()
    w_s, w_t = student[0].weight.clone(), teacher[0].weight.clone()
    update_teacher(teacher, student, 1, 0.99, mode="single", student_decay=0.1)
    assert torch.allclose(student[0].weight, 0.9 * w_s)
    assert torch.allclose(teacher[0].weight, 0.5 * w_t + 0.5 * 0.9 * w_s)


def test_permutation_partners_use_every_labelled_image_equally():
    x_u, x_l = torch.zeros(4, 1, 1, 1, 1), torch.arange(2.0).reshape(2, 1, 1, 1, 1)
    for seed in range(20):
        _, _, partner = mix_augment(x_u, x_l, np.random.default_rng(seed), partner_rule="permutation")
        assert sorted(partner.tolist()) == [0, 0, 1, 1]
        _, _, partner = mix_augment(x_u[:2], x_l, np.random.default_rng(seed), partner_rule="permutation")
        assert sorted(partner.tolist()) == [0, 1]
    drawn = [tuple(mix_augment(x_u[:2], x_l, np.random.default_rng(s))[2]) for s in range(40)]
    assert (0, 0) in drawn or (1, 1) in drawn          # with replacement a labelled image can repeat


class Recorder(nn.Module):
    """A two-class 'network' that records what it is given (prediction: foreground iff x > 0)."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return torch.cat([-x, x], 1) * self.scale


def test_released_mix_operands_are_the_teachers_noisy_image_and_a_noisy_labelled_image():
    g = torch.Generator().manual_seed(0)
    x_l, x_u = torch.randn(2, 1, 3, 3, 3, generator=g), torch.randn(2, 1, 3, 3, 3, generator=g)
    y_l = (x_l[:, 0] > 0).long()
    cfg = StepConfig.from_recipe("released")
    student, teacher = Recorder(), Recorder()
    compute_losses(student, teacher, x_l, y_l, x_u, 10, 100, cfg, np.random.default_rng(5))
    # the same draws, by hand: the generator seed first, D_U's noise, D_L's noise, then λ and partners
    rng = np.random.default_rng(5)
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    noisy_u, noisy_l = released_noise(x_u, gen), released_noise(x_l, gen)
    assert 0 < (noisy_u - x_u).abs().max() <= 0.2
    lam, partner = np.maximum(b := rng.beta(0.75, 0.75, 2), 1 - b), rng.permutation(2) % 2
    assert torch.equal(teacher.seen[0], noisy_u)
    batch = student.seen[0]
    assert torch.equal(batch[:4], torch.cat([x_l, x_u]))          # the student's D_L and D_U stay clean
    assert torch.allclose(batch[4:], mix_with(noisy_u, noisy_l[torch.as_tensor(partner)], lam))
    # default recipe: its reference teacher sees D_U plus noise; the eval-mode teacher the clean image
    student, teacher = Recorder(), Recorder()
    compute_losses(student, teacher, x_l, y_l, x_u, 10, 100, StepConfig(), np.random.default_rng(5))
    assert 0 < (teacher.seen[0] - x_u).abs().max() <= 0.2
    student, teacher = Recorder(), Recorder()
    compute_losses(student, teacher, x_l, y_l, x_u, 10, 100, StepConfig(teacher_noise=False),
                   np.random.default_rng(5))
    assert torch.equal(teacher.seen[0], x_u)


def test_permutation_batches_cover_each_case_once_per_epoch_and_depend_on_t_alone(tiny_cohort):
    cohort = load_cohort(tiny_cohort, labelled=2)
    labelled, unlabelled = cohort.labelled * 2, cohort.unlabelled * 2   # 4 entries each, batches of 2
    sampler = BatchSampler(labelled, unlabelled, (32, 32, 16), 2, 2, seed=4, draw="permutation")
    rng = np.random.default_rng(0)
    for epoch in range(5):
        lab = np.concatenate([sampler.indices(2 * epoch + j, "labelled", rng) for j in range(2)])
        unl = np.concatenate([sampler.indices(2 * epoch + j, "unlabelled", rng) for j in range(2)])
        assert sorted(lab.tolist()) == [0, 1, 2, 3] and sorted(unl.tolist()) == [0, 1, 2, 3]
    assert np.array_equal(sampler.indices(7, "labelled", rng), sampler.indices(7, "labelled", rng))
    a, b = sampler.batch(3), sampler.batch(3)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    plain = BatchSampler(labelled, unlabelled, (32, 32, 16), 2, 2, seed=4, augment=False)
    assert plain.batch(0)[0].shape == (2, 1, 32, 32, 16)


# ---------------------------------------------------------------- runaway: detector and guards


def test_detector_triggers_on_a_constructed_runaway_once_and_ignores_the_warm_up():
    det = RunawayDetector(threshold=0.2, window=5, start=100)
    # warm-up: uncertain everywhere, ignored; then Δ grows from 5 % to 30 % and stays
    shares = [(t, 0.9, 0.05) for t in range(0, 101, 10)]
    shares += [(100 + 10 * i, min(0.05 + 0.02 * i, 0.28), 0.02) for i in range(1, 30)]
    warnings = [w for t, d, th in shares if (w := det.feed(t, d, th))]
    assert len(warnings) == 1
    w = warnings[0]
    assert w["code"] == "region_runaway" and w["share_delta_theta"] > 0.2
    # the first iteration at which the last five logged shares were all above 0.2
    above = [t for t, d, th in shares if t > 100 and d + th > 0.2]
    assert w["iteration"] == above[4]
    # a dip re-arms it; a second sustained episode warns again
    assert det.feed(500, 0.01, 0.01) is None
    again = [det.feed(500 + i, 0.3, 0.0) for i in range(1, 6)]
    assert again[:4] == [None] * 4 and again[4] is not None


def test_detector_stays_silent_on_a_real_runs_logged_shares():
    # shares logged at every step by a real 200-iteration sgrs run (see the file's "what")
    run = json.loads((ROOT / "Testing" / "data" / "sgrs-run-region-shares.json").read_text())
    events = [{"event": "step", "iteration": t, "share_delta": d, "share_theta": th} for t, d, th in run["steps"]]
    assert replay(events, RunawayDetector(start=run["warmup_steps"])) == []
    # single spikes above the threshold happen in a normal run (here Δ + Θ reached 0.93 once)
    assert max(d + th for t, d, th in run["steps"] if t > run["warmup_steps"]) > 0.5
    # and the same run would have warned with a threshold below its typical share
    assert replay(events, RunawayDetector(threshold=0.0001, window=3, start=run["warmup_steps"]))


def test_a_training_run_reports_a_runaway_in_progress_finished_and_provenance(tiny_cohort, tmp_path):
    from sgrs.models.bundle import load_bundle
    from sgrs.training.job import read_events
    from sgrs.training.loop import train
    cfg = TrainConfig(str(tiny_cohort), str(tmp_path / "job"), labelled=2, patch=(32, 32, 16), filters=2,
                      batch=4, device="cpu", seed=3, iterations=10, log_every=1, val_every=10,
                      checkpoint_every=10, runaway_share=1e-4, runaway_window=2, recipe="paper",
                      guard="tau-quantile")
    bundle = train(cfg, show_bar=False)
    events = read_events(tmp_path / "job")
    warnings = [e for e in events if e["event"] == "warning"]
    assert warnings and warnings[0]["code"] == "region_runaway" and warnings[0]["iteration"] > cfg.warmup_steps
    assert events[-1]["event"] == "finished" and events[-1]["warnings"] == [warnings[0]["message"]]
    assert events[0]["recipe"] == "paper"
    steps = [e for e in events if e["event"] == "step"]
    assert all(e["tau"] >= 0.296 for e in steps)                 # the tau-quantile guard logs its τ
    prov = load_bundle(bundle).meta["provenance"]
    assert prov["recipe"]["name"] == "paper" and prov["recipe"]["overrides"] == {"guard": "tau-quantile"}
    assert prov["recipe"]["options"]["delta_rule"] == "intersection"
    assert prov["warnings"][0]["code"] == "region_runaway"
    saved = json.loads((tmp_path / "job" / "config.json").read_text())
    assert saved["recipe"] == "paper" and saved["dice_classes"] == "all"


def test_delta_ce_guard_puts_a_weak_hard_ce_on_delta_voxels_only():
    p_u, p_m = probs_of(FG_U.reshape(2, 2, 2, 2)), probs_of(FG_M.reshape(2, 2, 2, 2))
    r = synergy_regions(p_u, p_m)
    pl = torch.tensor(PL).reshape(2, 2, 2, 2)
    logits = torch.log(p_u).requires_grad_(True)
    plain = regional_terms(logits, pl, r.omega, r.theta)
    guarded = regional_terms(logits, pl, r.omega, r.theta, delta=r.delta)
    assert guarded["guard_ce"].item() == pytest.approx(masked_ce(logits, pl, r.delta).item())
    assert guarded["guard_ce"].item() > 0 and "guard_ce" not in plain
    grad = torch.autograd.grad(guarded["guard_ce"], logits)[0].abs().sum(1)
    assert torch.equal(grad > 0, r.delta)
    # in the step: without the guard Δ gets no gradient, with it Δ does, weighted by guard_weight
    def delta_grad(cfg):
        x = torch.cat([torch.log(probs_of(a.reshape(2, 2, 2, 2))) for a in (FG_L, FG_U, FG_M)]).requires_grad_(True)
        loss, _ = losses_from_logits(x, torch.tensor(Y_L).reshape(2, 2, 2, 2), pl, 2, 2, 9000, 100, cfg)
        return torch.autograd.grad(loss, x)[0][2:4].abs().sum(1)[r.delta]
    paper_delta = {"con_ce_region": "omega"}  # Δ disregarded, as the paper has it (our default: agree)
    assert torch.all(delta_grad(StepConfig(**paper_delta)) == 0)
    g1 = delta_grad(StepConfig(guard="delta-ce", guard_weight=0.1, **paper_delta))
    g2 = delta_grad(StepConfig(guard="delta-ce", guard_weight=0.2, **paper_delta))
    assert torch.all(g1 > 0) and torch.allclose(g2, 2 * g1)
    # the default's hard CE on agreeing voxels reaches Δ where the two views agree, and only there
    agree = (torch.tensor(FG_U).reshape(2, 2, 2, 2) > 0.5) == (torch.tensor(FG_M).reshape(2, 2, 2, 2) > 0.5)
    assert torch.equal(delta_grad(StepConfig()) > 0, agree[r.delta])


def test_tau_quantile_guard_caps_the_uncertain_share():
    g = torch.Generator().manual_seed(0)
    fg_u = 0.35 + 0.3 * torch.rand(2, 8, 8, 8, generator=g, dtype=torch.float64)  # uncertain almost everywhere
    fg_m = 0.35 + 0.3 * torch.rand(2, 8, 8, 8, generator=g, dtype=torch.float64)
    p_u, p_m = torch.stack([1 - fg_u, fg_u], 1), torch.stack([1 - fg_m, fg_m], 1)
    free = synergy_regions(p_u, p_m)
    capped = synergy_regions(p_u, p_m, tau_quantile=0.8)
    assert free.delta.float().mean() > 0.6
    ent = torch.cat([entropy_log10(p_u).flatten(), entropy_log10(p_m).flatten()])
    assert capped.tau > 0.296 and (ent > capped.tau).float().mean() == pytest.approx(0.2, abs=0.01)
    assert capped.delta.float().mean() < 0.4
    # when fewer than 1 − q of the voxels are uncertain τ stays at its value
    sure = torch.stack([1 - fg_u * 0 - 0.01, fg_u * 0 + 0.01], 1)
    assert synergy_regions(sure, sure, tau_quantile=0.8).tau == 0.296


# ---------------------------------------------------------------- exact resume under the released recipe


def test_released_recipe_resumes_exactly_after_kill_minus_nine(tiny_cohort, tmp_path):
    # noise, permutation batches and partners, train-mode teacher, double EMA and student decay are
    # all functions of (seed, t) or of the checkpointed state, so a killed run resumes bit-identically
    import os
    import signal
    import subprocess
    import sys
    import time

    from safetensors.torch import load_file

    from sgrs.training.job import read_events

    def args(out):
        return ["train", "--cohort", tiny_cohort, "--out", out, "--labelled", 2, "--iterations", 8,
                "--patch", 32, 32, 16, "--filters", 2, "--seed", 3, "--device", "cpu",
                "--checkpoint-every", 2, "--log-every", 1, "--val-every", 8, "--recipe", "released"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def cli(*a):
        return subprocess.run([sys.executable, "-m", "sgrs", *map(str, a)], capture_output=True, text=True, check=False,
                              env=env, timeout=300)
    straight = cli(*args(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    job = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "sgrs", *map(str, args(job))], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 240
    while time.time() < end and not any(e["event"] == "checkpoint" and e["iteration"] >= 2 for e in read_events(job)):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = cli("train", "--out", job, "--resume", "--device", "cpu")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((job / "config.json").read_text())["recipe"] == "released"
    for weights in ("student", "teacher"):
        a = load_file(tmp_path / "straight" / "model" / f"{weights}.safetensors")
        b = load_file(job / "model" / f"{weights}.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a), f"{weights} must continue exactly"
