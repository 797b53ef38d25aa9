"""Model bundles: round trip, and refusal of tampered, missing or foreign files."""
import json

import numpy as np
import pytest
import torch

from sgrs.models.bundle import default_classes, load_bundle, save_bundle
from sgrs.models.vnet import VNet
from sgrs.util.errors import ModelError


@pytest.fixture()
def bundle_dir(tmp_path):
    torch.manual_seed(0)
    student, teacher = VNet(2, 2), VNet(2, 2)
    ref = np.random.default_rng(0).standard_normal((16, 16, 16)).astype(np.float32)
    return save_bundle(tmp_path / "m", student, teacher, patch_size=(16, 16, 16),
                       classes=default_classes(["background", "left atrium"]),
                       normalization={"mode": "zscore", "window": None}, tau=0.296, delta_rule="union",
                       mix_reference=ref, spacing=[1, 1, 1])


def test_round_trip_restores_weights_reference_and_metadata(bundle_dir):
    b = load_bundle(bundle_dir)
    assert b.patch_size == (16, 16, 16) and b.n_classes == 2 and not b.model.training
    assert b.meta["classes"][1]["terminology"]["type"][1] == "82471001"
    assert b.mix_reference.shape == (16, 16, 16)
    teacher = load_bundle(bundle_dir, weights="teacher").model
    assert not torch.equal(next(teacher.parameters()), next(b.model.parameters()))


def test_tampered_weights_are_refused(bundle_dir):
    f = bundle_dir / "student.safetensors"
    data = bytearray(f.read_bytes())
    data[-5] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        load_bundle(bundle_dir)


def test_missing_file_and_bad_json_and_pth_are_refused(bundle_dir, tmp_path):
    (bundle_dir / "teacher.safetensors").unlink()
    with pytest.raises(ModelError, match="teacher.safetensors is missing"):
        load_bundle(bundle_dir)
    (bundle_dir / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_bundle(bundle_dir)
    with pytest.raises(ModelError, match="import-checkpoint"):
        load_bundle(tmp_path / "best_model.pth")
    with pytest.raises(ModelError, match="no model.json"):
        load_bundle(tmp_path)


def test_saving_over_an_existing_bundle_replaces_it_whole(bundle_dir):
    meta = json.loads((bundle_dir / "model.json").read_text())
    save_bundle(bundle_dir, VNet(2, 2), None, patch_size=(16, 16, 16), classes=meta["classes"],
                normalization=meta["normalization"], tau=0.3, delta_rule="intersection", mix_reference=None)
    b = load_bundle(bundle_dir)
    assert b.meta["delta_rule"] == "intersection" and b.mix_reference is None
    assert not (bundle_dir / "teacher.safetensors").exists()
    assert not list(bundle_dir.parent.glob(".m.*"))
