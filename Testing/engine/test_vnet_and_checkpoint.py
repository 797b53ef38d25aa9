"""The backbone against the official key list, and the strict, never-executing checkpoint import."""
import subprocess
import sys

import pytest
import torch
from conftest import OFFICIAL_KEYS

from sgrs.models.bundle import load_bundle
from sgrs.models.checkpoint import import_checkpoint, read_state_dict
from sgrs.models.vnet import VNet
from sgrs.util.errors import ModelError


def official_entries():
    entries = {}
    for line in OFFICIAL_KEYS.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, rest = line.split(" ", 1)
        shape, dtype = rest.rsplit(" ", 1)
        entries[key] = (tuple(int(v) for v in shape.strip("()").split(",") if v.strip()), dtype)
    return entries


def test_full_size_vnet_has_the_official_parameter_count_and_keys():
    model = VNet()
    assert sum(p.numel() for p in model.parameters()) == 9_448_866
    ref = official_entries()
    state = model.state_dict()
    assert list(state) == list(ref), "same keys, same order"
    for key, (shape, dtype) in ref.items():
        assert tuple(state[key].shape) == shape, key
        assert str(state[key].dtype) == f"torch.{dtype}", key


def test_dropout_only_in_training_and_output_shape():
    torch.manual_seed(0)
    model = VNet(3, 2)
    x = torch.randn(1, 1, 32, 32, 16)
    model.eval()
    assert model(x).shape == (1, 3, 32, 32, 16)
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def official_like_state(n_filters=16):
    torch.manual_seed(1)
    return {k: v.clone() for k, v in VNet(2, n_filters).state_dict().items()}


def test_official_state_dict_imports_strictly_with_identical_weights(tmp_path):
    state = official_like_state()
    torch.save(state, tmp_path / "best_model.pth")
    bundle = load_bundle(import_checkpoint(tmp_path / "best_model.pth", tmp_path / "bundle"))
    assert bundle.model.n_filters == 16 and bundle.n_classes == 2
    for key, value in bundle.model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_wrapped_and_dataparallel_checkpoints_are_unwrapped(tmp_path):
    state = official_like_state(4)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "wrapped.pth")
    assert set(read_state_dict(tmp_path / "wrapped.pth")) == set(state)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("encoder.block_three.conv.3.weight"), "missing keys.*encoder.block_three.conv.3.weight"),
    (lambda s: s.__setitem__("decoder1.extra.weight", torch.zeros(1)), "unexpected keys.*decoder1.extra.weight"),
    (lambda s: s.__setitem__("decoder1.block_nine.conv.0.weight", torch.zeros(16, 16, 1, 1, 1)),
     "shapes.*decoder1.block_nine.conv.0.weight"),
])
def test_missing_extra_or_misshapen_keys_are_refused_by_name(tmp_path, change, message):
    state = official_like_state()
    change(state)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ModelError, match=message):
        import_checkpoint(tmp_path / "bad.pth", tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()


PAYLOAD = """
import os, sys, torch
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[2],))
torch.save({"encoder.block_one.conv.0.weight": torch.zeros(1), "x": Evil()}, sys.argv[1])
"""


def test_a_pickle_with_a_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    subprocess.run([sys.executable, "-c", PAYLOAD, str(tmp_path / "evil.pth"), str(marker)], check=True)
    with pytest.raises(ModelError, match="refused"):
        import_checkpoint(tmp_path / "evil.pth", tmp_path / "bundle")
    assert not marker.exists()


def test_truncated_checkpoint_gives_a_clear_error(tmp_path):
    torch.save(official_like_state(2), tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="corrupt or truncated"):
        import_checkpoint(tmp_path / "cut.pth", tmp_path / "bundle")
