"""Issue 28 item 4, fine-tuning levers: ``freeze_encoder`` keeps the encoder's weights fixed for the
first N iterations (no gradient, so no weight decay either) while the decoder learns; after N the
whole network trains. ``freeze_norm`` keeps the base model's BatchNorm statistics for the whole run."""
import json

import pytest
import torch

from sgrs.models.bundle import load_bundle
from sgrs.training.config import TrainConfig
from sgrs.training.loop import train
from sgrs.util.errors import SGRSError


def _weights(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def _fine_tune(tiny_cohort, tiny_bundle, out, iterations, freeze, freeze_norm=False):
    return load_bundle(train(TrainConfig(str(tiny_cohort / "manifest.json"), str(out), labelled=2, val=0,
                                         iterations=iterations, patch=(32, 32, 16), batch=4, device="cpu", seed=5,
                                         method="supervised", base_model=str(tiny_bundle), freeze_encoder=freeze,
                                         freeze_norm=freeze_norm),
                             show_bar=False))


def _norm_statistics(model):
    return {k: v.clone() for k, v in model.state_dict().items() if k.endswith(("running_mean", "running_var"))}


def test_a_frozen_encoder_keeps_the_base_weights_while_the_decoder_learns(tiny_cohort, tiny_bundle, tmp_path):
    base = load_bundle(tiny_bundle).model
    frozen = _fine_tune(tiny_cohort, tiny_bundle, tmp_path / "frozen", iterations=2, freeze=2).model
    for name, value in _weights(base.encoder).items():
        assert torch.equal(value, _weights(frozen.encoder)[name]), name
    assert any(not torch.equal(v, _weights(frozen.decoder1)[k]) for k, v in _weights(base.decoder1).items())
    # after the frozen iterations the encoder trains too
    thawed = _fine_tune(tiny_cohort, tiny_bundle, tmp_path / "thawed", iterations=2, freeze=1).model
    assert any(not torch.equal(v, _weights(thawed.encoder)[k]) for k, v in _weights(base.encoder).items())
    config = json.loads((tmp_path / "thawed" / "config.json").read_text())
    assert config["freeze_encoder"] == 1


def test_a_negative_freeze_is_refused_in_one_line(tiny_cohort, tiny_bundle, tmp_path):
    with pytest.raises(SGRSError, match="freeze_encoder must be ≥ 0"):
        _fine_tune(tiny_cohort, tiny_bundle, tmp_path / "bad", iterations=1, freeze=-1)


def test_frozen_norm_statistics_stay_the_base_models_while_the_weights_learn(tiny_cohort, tiny_bundle, tmp_path):
    base = load_bundle(tiny_bundle).model
    kept = _fine_tune(tiny_cohort, tiny_bundle, tmp_path / "kept", iterations=2, freeze=0, freeze_norm=True).model
    assert _norm_statistics(base) and all(torch.equal(v, _norm_statistics(kept)[k])
                                          for k, v in _norm_statistics(base).items())
    assert any(not torch.equal(v, _weights(kept)[k]) for k, v in _weights(base).items())  # scale, shift, convs
    moved = _fine_tune(tiny_cohort, tiny_bundle, tmp_path / "moved", iterations=2, freeze=0).model
    assert any(not torch.equal(v, _norm_statistics(moved)[k]) for k, v in _norm_statistics(base).items())
    assert json.loads((tmp_path / "kept" / "config.json").read_text())["freeze_norm"] is True
