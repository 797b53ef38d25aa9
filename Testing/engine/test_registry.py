"""The model registry lists the demo and registered bundles and ignores foreign folders."""
import numpy as np
import torch

from sgrs.models.bundle import default_classes, save_bundle
from sgrs.models.registry import DEMO_MODEL, list_models, register
from sgrs.models.vnet import VNet


def test_register_and_list(tmp_path):
    torch.manual_seed(0)
    bundle = save_bundle(tmp_path / "my model", VNet(2, 2), None, patch_size=(16, 16, 16),
                         classes=default_classes(["background", "left atrium"]),
                         normalization={"mode": "zscore", "window": None}, tau=0.296, delta_rule="union",
                         mix_reference=np.zeros((16, 16, 16), np.float32))
    registry = tmp_path / "registry"
    (registry / "not-a-model").mkdir(parents=True)
    first = register(bundle, folder=registry)
    second = register(bundle, folder=registry)
    assert first.path.name == "my-model" and second.path.name == "my-model-2"
    listed = list_models(registry)
    assert listed[0].bundled and listed[0].path == DEMO_MODEL
    assert [e.path.name for e in listed[1:]] == ["my-model", "my-model-2"]
