"""Issue 19: the reference teacher (train mode, noisy input, its own BatchNorm statistics), the
UA-MT / SSL4MIS mean-teacher loss, the self-training arm and the method list."""
import json
import math

import numpy as np
import pytest
import torch

from sgrs.cli import build_parser
from sgrs.method.ema import released_noise, teacher_logits, update_teacher
from sgrs.method.losses import softmax_mse, supervised_loss
from sgrs.method.names import METHODS
from sgrs.method.step import StepConfig, compute_losses, losses_from_logits, training_step
from sgrs.models.vnet import VNet
from sgrs.training.config import TrainConfig


def first_bn(model):
    return model.encoder.block_one.conv[1]


def test_reference_teacher_runs_dropout_and_batch_statistics_and_keeps_them_as_documented():
    torch.manual_seed(0)
    teacher = VNet(2, 4, dropout=0.5)
    teacher.eval()
    x = torch.randn(2, 1, 16, 16, 16)
    bn = first_bn(teacher)
    mean_before, var_before = bn.running_mean.clone(), bn.running_var.clone()
    noisy = released_noise(x, torch.Generator().manual_seed(3))
    torch.manual_seed(11)
    a = teacher_logits(teacher, x, reference=True, noisy=noisy)
    assert not teacher.training  # the caller's mode is restored
    # its forward updated the running statistics from the noisy batch, momentum 0.1 (as UA-MT / SSL4MIS)
    with torch.no_grad():
        conv = teacher.encoder.block_one.conv[0](noisy)
    n = conv.numel() / conv.shape[1]
    batch_mean = conv.mean((0, 2, 3, 4))
    batch_var = conv.var((0, 2, 3, 4), unbiased=False) * n / (n - 1)
    assert torch.allclose(bn.running_mean, 0.9 * mean_before + 0.1 * batch_mean, atol=1e-6)
    assert torch.allclose(bn.running_var, 0.9 * var_before + 0.1 * batch_var, atol=1e-5)
    # dropout is active: another draw of the dropout masks gives other logits on the same input
    torch.manual_seed(12)
    b = teacher_logits(teacher, x, reference=True, noisy=noisy)
    assert not torch.allclose(a, b)
    # ... and with dropout off (and the same statistics) the two forwards agree
    for m in teacher.modules():
        if isinstance(m, torch.nn.Dropout3d):
            m.p = 0.0
    torch.manual_seed(11)
    c = teacher_logits(teacher, x, reference=True, noisy=noisy)
    torch.manual_seed(12)
    assert torch.allclose(c, teacher_logits(teacher, x, reference=True, noisy=noisy), atol=1e-5)


def test_reference_ema_moves_parameters_only_and_the_eval_teachers_moves_buffers_too():
    torch.manual_seed(0)
    student, teacher = VNet(2, 2), VNet(2, 2)
    student.train()
    student(torch.randn(2, 1, 16, 16, 16))  # the student's running statistics move
    t_param, s_param = next(teacher.parameters()).clone(), next(student.parameters()).clone()
    t_mean = first_bn(teacher).running_mean.clone()
    update_teacher(teacher, student, step=1, own_buffers=True)  # decay 0.5
    assert torch.allclose(next(teacher.parameters()), 0.5 * t_param + 0.5 * s_param)
    assert torch.equal(first_bn(teacher).running_mean, t_mean)
    update_teacher(teacher, student, step=1)  # eval-mode teacher: the buffers follow the student
    assert not torch.equal(first_bn(teacher).running_mean, t_mean)


def test_a_training_step_with_the_reference_teacher_leaves_it_its_own_statistics():
    torch.manual_seed(0)
    student, teacher = VNet(2, 4, dropout=0.1), VNet(2, 4, dropout=0.1)
    teacher.load_state_dict(student.state_dict())
    opt = torch.optim.SGD(student.parameters(), lr=0.01)
    x_l, x_u = torch.randn(2, 1, 16, 16, 16) + 2.0, torch.randn(2, 1, 16, 16, 16)
    y_l = (x_l[:, 0] > 2).long()
    cfg = StepConfig(method="mean-teacher", teacher_noise=True)
    rng = np.random.default_rng([5, 0])
    noisy = released_noise(x_u, torch.Generator().manual_seed(int(np.random.default_rng([5, 0]).integers(2**31))))
    with torch.no_grad():
        conv = teacher.encoder.block_one.conv[0](noisy)
    expected = 0.9 * first_bn(teacher).running_mean + 0.1 * conv.mean((0, 2, 3, 4))
    training_step(student, teacher, opt, x_l, y_l, x_u, 0, 100, cfg, rng)
    assert torch.allclose(first_bn(teacher).running_mean, expected, atol=1e-6)
    # at step 0 the EMA's decay is 0: an EMA over the buffers would have copied the student's
    assert not torch.allclose(first_bn(student).running_mean, expected, atol=1e-3)


def test_softmax_mse_against_a_hand_computation():
    s_logits = torch.tensor([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]])   # 3 voxels × 2 classes
    t_logits = torch.tensor([[1.0, 0.0], [0.0, 0.0], [-1.0, 3.0]])
    s = s_logits.T.reshape(1, 2, 3, 1, 1).softmax(1)
    t = t_logits.T.reshape(1, 2, 3, 1, 1).softmax(1)

    def soft(row):
        e = [math.exp(v) for v in row]
        return [v / sum(e) for v in e]
    total = 0.0
    for a, b in zip(s_logits.tolist(), t_logits.tolist()):
        total += sum((p - q) ** 2 for p, q in zip(soft(a), soft(b)))
    assert softmax_mse(s, t).item() == pytest.approx(total / 6)   # mean over classes × voxels
    assert softmax_mse(t, t).item() == 0.0


def test_mean_teacher_step_is_supervised_plus_a_tenth_of_the_ramped_mse():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 2, 2, 2, 2, generator=g, dtype=torch.float64)
    y_l = (torch.rand(2, 2, 2, 2, generator=g) > 0.5).long()
    teacher_probs = torch.randn(2, 2, 2, 2, 2, generator=g, dtype=torch.float64).softmax(1)
    config = TrainConfig(cohort="c", out="o", method="mean-teacher", iterations=600)
    assert config.unsup_weight == 0.1 and config.warmup_steps == 600   # ramped over the whole run
    cfg = config.step_config()
    step = 150
    loss, stats = losses_from_logits(logits, y_l, teacher_probs, 2, 2, step, config.warmup_steps, cfg)
    sup = supervised_loss(logits[:2], y_l)
    p = logits[2:].softmax(1)
    mse = float(((p - teacher_probs) ** 2).sum()) / p.numel()
    w = 0.1 * math.exp(-5 * (1 - step / 600) ** 2)
    assert stats["w"] == pytest.approx(w)
    assert loss.item() == pytest.approx(sup.item() + w * mse)


def test_mean_teacher_gets_the_teachers_softmax_and_self_training_its_argmax():
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return torch.cat([torch.zeros_like(x), x], 1)
    g = torch.Generator().manual_seed(1)
    x_l, x_u = torch.randn(2, 1, 2, 2, 2, generator=g), torch.randn(2, 1, 2, 2, 2, generator=g)
    y_l = (x_l[:, 0] > 0).long()
    student, teacher = Fixed(), Fixed()
    p_u = torch.cat([torch.zeros_like(x_u), x_u], 1).softmax(1)
    for method in ("mean-teacher", "self-training"):
        cfg = StepConfig(method=method, teacher_noise=False)
        loss, stats = compute_losses(student, teacher, x_l, y_l, x_u, 10, 10, cfg, np.random.default_rng(0))
        if method == "mean-teacher":   # student and teacher agree exactly: no consistency loss
            assert stats["unsup"] == 0.0
        else:                          # hard labels: a CE toward the argmax remains
            assert stats["unsup"] > 0.0 and torch.all(p_u.max(1).values < 1)


def test_methods_are_one_list_for_the_cli_and_old_jobs_keep_their_meaning(tmp_path):
    choices = next(a for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions
                   if a.dest == "method").choices
    assert list(choices) == list(METHODS)
    assert {"mean-teacher", "self-training", "mix", "sgrs", "supervised"} == set(METHODS)
    with pytest.raises(ValueError, match="method must be one of"):
        TrainConfig(cohort="c", out="o", method="base").check()
    # a config.json written before the rename: its 'mean-teacher' was hard-label self-training
    old = TrainConfig(cohort="c", out="o", method="self-training", filters=4).to_json()
    for key in ("unsup_weight", "dropout"):
        old.pop(key)
    old["method"] = "mean-teacher"
    resumed = TrainConfig.from_json(json.loads(json.dumps(old)))
    assert resumed.method == "self-training" and resumed.unsup_weight == 1.0 and resumed.dropout == 0.5


def test_narrow_networks_get_a_dropout_that_never_drops_every_channel():
    assert TrainConfig(cohort="c", out="o", filters=16).dropout == 0.5
    assert TrainConfig(cohort="c", out="o", filters=4).dropout == 0.1
    assert TrainConfig(cohort="c", out="o", filters=4, dropout=0.0).dropout == 0.0
    with pytest.raises(ValueError, match="dropout"):
        TrainConfig(cohort="c", out="o", dropout=1.5).check()
    net = VNet(2, 4, dropout=0.1)
    assert [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout3d)] == [0.1, 0.1]
