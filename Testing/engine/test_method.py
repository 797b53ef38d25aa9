"""The parts of one SGRS training step, against small hand-computed cases."""
import math

import numpy as np
import pytest
import torch

from sgrs.method.ema import ema_decay, pseudo_labels, update_teacher
from sgrs.method.losses import (
    masked_ce,
    regional_terms,
    soft_dice_loss,
    supervised_loss,
    unlabelled_loss,
)
from sgrs.method.mix import mix_augment
from sgrs.method.schedule import consistency_weight, learning_rate
from sgrs.method.synergy import entropy_log10, synergy_regions
from sgrs.models.vnet import VNet


def two_class(fg: np.ndarray) -> torch.Tensor:
    """Probabilities (1, 2, 2, 2, 2) from a 2×2×2 array of foreground probabilities."""
    fg = torch.tensor(fg, dtype=torch.float64).reshape(1, 1, 2, 2, 2)
    return torch.cat([1 - fg, fg], 1)


def test_entropy_threshold_is_the_released_probability_band():
    # τ = 0.296 in log10 entropy is a foreground probability inside (0.425, 0.575).
    for p, uncertain in [(0.5, True), (0.43, True), (0.57, True), (0.42, False), (0.58, False), (0.99, False)]:
        ent = entropy_log10(two_class(np.full(8, p)))[0, 0, 0, 0].item()
        expected = -(p * math.log10(p) + (1 - p) * math.log10(1 - p))
        assert ent == pytest.approx(expected)
        assert (ent > 0.296) == uncertain


# Eight voxels: foreground probability of the plain view (U) and the mixed view (M).
P_U = np.array([0.9, 0.9, 0.1, 0.5, 0.9, 0.5, 0.1, 0.45])
P_M = np.array([0.9, 0.2, 0.1, 0.9, 0.5, 0.5, 0.8, 0.3])
#               Ω    Θ    Ω    u-only m-only both Θ   u-only


def test_regions_on_a_2x2x2_patch_union_and_intersection():
    regions = synergy_regions(two_class(P_U), two_class(P_M), delta_rule="union")
    flat = {k: getattr(regions, k).flatten().tolist() for k in ("delta", "omega", "theta")}
    assert flat["delta"] == [False, False, False, True, True, True, False, True]
    assert flat["omega"] == [True, False, True, False, False, False, False, False]
    assert flat["theta"] == [False, True, False, False, False, False, True, False]

    inter = synergy_regions(two_class(P_U), two_class(P_M), delta_rule="intersection")
    assert inter.delta.flatten().tolist() == [False, False, False, False, False, True, False, False]
    # voxel 3: U=0.5 (argmax 0 by tie) vs M=0.9 → disagree; voxel 4: 0.9 vs 0.5 (argmax 0) → disagree;
    # voxel 7: 0.45 vs 0.3 → both background → agree.
    assert inter.omega.flatten().tolist() == [True, False, True, False, False, False, False, True]
    assert inter.theta.flatten().tolist() == [False, True, False, True, True, False, True, False]


@pytest.mark.parametrize("rule", ["union", "intersection"])
def test_regions_are_disjoint_and_cover_random_patches(rule):
    g = torch.Generator().manual_seed(0)
    p_u = torch.rand(3, 3, 5, 6, 7, generator=g).softmax(1)
    p_m = torch.rand(3, 3, 5, 6, 7, generator=g).softmax(1)
    r = synergy_regions(p_u, p_m, delta_rule=rule)
    count = r.delta.int() + r.omega.int() + r.theta.int()
    assert torch.all(count == 1)
    assert sum(r.shares().values()) == pytest.approx(1.0)


def test_unknown_delta_rule_is_refused():
    with pytest.raises(ValueError, match="delta_rule"):
        synergy_regions(two_class(P_U), two_class(P_M), delta_rule="both")


def logits_of(fg: np.ndarray) -> torch.Tensor:
    """Two-class logits whose softmax gives foreground probability ``fg``."""
    fg = torch.tensor(fg, dtype=torch.float64).reshape(1, 2, 2, 2)
    return torch.stack([torch.zeros_like(fg), torch.log(fg / (1 - fg))], 1)


def test_masked_ce_is_voxel_mean_over_whole_patch_by_hand():
    logits = logits_of(P_U)
    target = torch.tensor([1, 0, 0, 1, 1, 0, 1, 0]).reshape(1, 2, 2, 2)
    mask = torch.tensor([1, 1, 0, 0, 0, 0, 1, 0], dtype=torch.bool).reshape(1, 2, 2, 2)
    p = P_U
    by_hand = (-math.log(p[0]) - math.log(1 - p[1]) - math.log(p[6])) / 8
    assert masked_ce(logits, target, mask).item() == pytest.approx(by_hand)
    # label smoothing ε: target distribution (1 − ε) one-hot + ε / C
    eps = 0.2
    def smoothed(q, t):
        probs = [1 - q, q]
        return -sum(((1 - eps) * (c == t) + eps / 2) * math.log(probs[c]) for c in (0, 1))
    by_hand_ls = (smoothed(p[0], 1) + smoothed(p[1], 0) + smoothed(p[6], 1)) / 8
    assert masked_ce(logits, target, mask, label_smoothing=eps).item() == pytest.approx(by_hand_ls)


@pytest.mark.parametrize("smooth", [1e-5, 1.0, 20.0])
def test_masked_soft_dice_by_hand_includes_factor_two(smooth):
    probs = two_class(P_U)
    target = torch.tensor([1, 0, 0, 1, 1, 0, 1, 0]).reshape(1, 2, 2, 2)
    mask = np.array([1, 1, 0, 1, 0, 0, 1, 1])
    t = target.flatten().numpy()
    inter = sum(m * p * y for m, p, y in zip(mask, P_U, t))
    denom = sum(m * p * p for m, p in zip(mask, P_U)) + sum(m * y for m, y in zip(mask, t))
    by_hand = 1 - (2 * inter + smooth) / (denom + smooth)
    got = soft_dice_loss(probs, target, torch.tensor(mask, dtype=torch.bool).reshape(1, 2, 2, 2), smooth)
    assert got.item() == pytest.approx(by_hand)


def test_supervised_loss_is_zero_for_a_perfect_prediction():
    # Without the factor 2 (a defect of the released code) a perfect prediction would still cost ½.
    target = torch.tensor([1, 0, 0, 1, 1, 0, 1, 0]).reshape(1, 2, 2, 2)
    logits = torch.stack([(1 - target) * 40.0, target * 40.0], 1).double()
    assert supervised_loss(logits, target).item() == pytest.approx(0.0, abs=1e-6)


def test_unlabelled_loss_combines_four_dice_and_two_ce_terms():
    u = {"con_ce": torch.tensor(1.0), "nr_ce": torch.tensor(2.0), "con_dice": torch.tensor(0.1),
         "nr_dice": torch.tensor(0.3)}
    m = {"con_ce": torch.tensor(3.0), "nr_ce": torch.tensor(4.0), "con_dice": torch.tensor(0.5),
         "nr_dice": torch.tensor(0.7)}
    assert unlabelled_loss(u, m).item() == pytest.approx(0.5 * ((0.1 + 0.3 + 0.5 + 0.7) / 4 + (3 + 7) / 2))


def test_regional_terms_are_zero_gradient_on_delta_and_use_their_own_region():
    logits = logits_of(P_U).requires_grad_(True)
    pseudo = torch.tensor([1, 0, 0, 1, 1, 0, 1, 0]).reshape(1, 2, 2, 2)
    r = synergy_regions(two_class(P_U), two_class(P_M))
    terms = regional_terms(logits, pseudo, r.omega, r.theta)
    sum(terms.values()).backward()
    grad = logits.grad.abs().sum(1).flatten()
    delta = r.delta.flatten()
    assert torch.all(grad[delta] == 0), "Δ voxels must not receive any loss (no hard CE on Δ)"
    assert torch.all(grad[~delta] > 0)
    # Θ terms see only Θ: with an empty Θ they are the pure smoothing limit.
    empty = regional_terms(logits.detach(), pseudo, r.omega, torch.zeros_like(r.theta))
    assert empty["nr_ce"].item() == 0.0 and empty["nr_dice"].item() == pytest.approx(0.0)


def test_batch_of_two_never_crosses_sample_masks():
    # The released code broadcast one sample's Θ mask onto the other's CE. Here a voxel outside
    # sample 0's Θ gets no NR gradient in sample 0, even where sample 1's Θ covers it.
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 2, 2, 2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    pseudo = torch.randint(0, 2, (2, 2, 2, 2), generator=g)
    theta = torch.zeros(2, 2, 2, 2, dtype=torch.bool)
    theta[0, 0, 0, 0] = True
    theta[1] = True
    terms = regional_terms(logits, pseudo, torch.zeros_like(theta), theta)
    (terms["nr_ce"] + terms["nr_dice"]).backward()
    grad0 = logits.grad[0].abs().sum(0)
    assert grad0[0, 0, 0] > 0
    assert torch.count_nonzero(grad0) == 1
    # and the batch CE is the mean of the per-sample CEs computed alone
    both = masked_ce(logits.detach(), pseudo, theta, 0.2)
    alone = [masked_ce(logits.detach()[i:i + 1], pseudo[i:i + 1], theta[i:i + 1], 0.2) for i in range(2)]
    assert both.item() == pytest.approx((alone[0] + alone[1]).item() / 2)


def test_warmup_weight_and_learning_rate():
    assert consistency_weight(0, 6000) == pytest.approx(math.exp(-5))
    assert consistency_weight(3000, 6000) == pytest.approx(math.exp(-5 * 0.25))
    assert consistency_weight(6000, 6000) == 1.0 and consistency_weight(9000, 6000) == 1.0
    assert learning_rate(500, 1000) == 0.01
    assert learning_rate(500, 1000, policy="poly") == pytest.approx(0.01 * 0.5 ** 0.9)


def test_ema_decay_schedule_and_update_moves_parameters_and_bn_statistics():
    assert ema_decay(0) == 0.0 and ema_decay(1) == 0.5 and ema_decay(10_000) == 0.99
    torch.manual_seed(0)
    student, teacher = VNet(2, 2), VNet(2, 2)
    student.train()
    student(torch.randn(2, 1, 16, 16, 16))  # moves the student's BatchNorm running statistics
    s_p, t_p = next(student.parameters()).clone(), next(teacher.parameters()).clone()
    s_mean = student.encoder.block_one.conv[1].running_mean.clone()
    t_mean = teacher.encoder.block_one.conv[1].running_mean.clone()
    update_teacher(teacher, student, step=1)  # decay 0.5
    assert torch.allclose(next(teacher.parameters()), 0.5 * t_p + 0.5 * s_p)
    assert torch.allclose(teacher.encoder.block_one.conv[1].running_mean, 0.5 * t_mean + 0.5 * s_mean)
    assert not torch.allclose(teacher.encoder.block_one.conv[1].running_mean, t_mean)


def test_eval_mode_pseudo_labels_leave_teacher_untouched():
    torch.manual_seed(0)
    teacher = VNet(2, 2)
    teacher.train()
    x = torch.randn(2, 1, 16, 16, 16)
    before = [b.clone() for b in teacher.buffers()]
    pl = pseudo_labels(teacher, x)
    assert teacher.training  # its mode is restored
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.buffers()))
    teacher.eval()
    assert torch.equal(pl, teacher(x).argmax(1))


def test_mix_augmentation_lambda_partner_and_formula():
    g = torch.Generator().manual_seed(0)
    x_u, x_l = torch.randn(5, 1, 4, 4, 4, generator=g), torch.randn(3, 1, 4, 4, 4, generator=g)
    mixed, lam, partner = mix_augment(x_u, x_l, np.random.default_rng(7), alpha=0.75)
    assert np.all(lam >= 0.5) and np.all(lam <= 1.0)
    assert np.all((partner >= 0) & (partner < 3))
    for i in range(5):
        expected = lam[i] * x_u[i] + (1 - lam[i]) * x_l[partner[i]]
        assert torch.allclose(mixed[i], expected.float(), atol=1e-6)
    again = mix_augment(x_u, x_l, np.random.default_rng(7), alpha=0.75)
    assert torch.equal(mixed, again[0])
    # λ = max(b, 1 − b), b ~ Beta(α, α): its mean is known in closed form-free terms by sampling
    lams = mix_augment(torch.zeros(20000, 1, 1, 1, 1), torch.zeros(1, 1, 1, 1, 1), np.random.default_rng(1))[1]
    b = np.random.default_rng(2).beta(0.75, 0.75, 200000)
    assert lams.mean() == pytest.approx(np.maximum(b, 1 - b).mean(), abs=0.01)


def test_class_argmax_equals_torch_argmax_including_ties():
    from sgrs.method.synergy import class_argmax
    g = torch.Generator().manual_seed(3)
    for c in (2, 3, 5):
        x = torch.rand(2, c, 6, 5, 4, generator=g)
        x[0, :, 0, 0, 0] = 0.5  # an exact tie across all classes
        x[1, 1:, 1, 1, 1] = x[1, :, 1, 1, 1].max() + 1  # tie between the later classes
        assert torch.equal(class_argmax(x), x.argmax(1))
