"""Validation Dice of a multi-class model is the mean over its foreground classes, not "anything vs
background": a model that paints every structure as the first class must not score as if it were right."""
import numpy as np
import torch

from sgrs.data.cohort import Case, Cohort
from sgrs.evaluation.metrics import foreground_dice
from sgrs.models.vnet import VNet
from sgrs.training.loop import validate


def test_foreground_dice_by_hand():
    truth = np.zeros((4, 4, 4), np.uint8)
    truth[:2], truth[2:] = 1, 2
    swapped = np.where(truth == 1, 2, 1).astype(np.uint8)
    assert foreground_dice(truth, truth, 3) == 1.0
    assert foreground_dice(swapped, truth, 3) == 0.0     # both classes wrong
    half = truth.copy()
    half[2:] = 1                                         # class 1 over everything: Dice 2*32/(64+32), class 2: 0
    assert abs(foreground_dice(half, truth, 3) - (2 * 32 / 96 + 0) / 2) < 1e-9
    assert foreground_dice(np.zeros_like(truth), np.zeros_like(truth), 2) == 1.0   # absent from both: agreement


def test_validate_scores_a_three_class_model_per_class():
    torch.manual_seed(0)
    model = VNet(n_classes=3, n_filters=2)
    with torch.no_grad():   # every voxel argmaxes to class 1, whatever the image
        model.decoder1.out_conv.weight.zero_()
        model.decoder1.out_conv.bias.copy_(torch.tensor([0.0, 10.0, 0.0]))
    label = np.zeros((16, 16, 16), np.uint8)
    label[:, :8], label[:, 8:] = 1, 2
    case = Case("c", np.random.default_rng(0).normal(size=label.shape).astype(np.float32), label, None, "test")
    cohort = Cohort(labelled=[], unlabelled=[], val=[case], classes=["background", "a", "b"], source="test")
    result = validate(model, cohort, (16, 16, 16), torch.device("cpu"), 0.5, None)
    # class 1 everywhere: Dice 2*2048/(4096+2048) = 2/3 for class 1, 0 for class 2; "anything vs background" said 1.0
    assert abs(result["dice"] - (2 / 3) / 2) < 1e-6 and result["per_case"]["c"] == result["dice"]
