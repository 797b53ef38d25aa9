"""The model registry lists the demo and registered bundles and ignores foreign folders."""
import numpy as np
import torch

from sgrs.models.bundle import default_classes, save_bundle
from sgrs.models.registry import DEMO_MODEL, list_models, register
from sgrs.models.vnet import VNet


def small_bundle(folder):
    torch.manual_seed(0)
    return save_bundle(folder, VNet(2, 2), None, patch_size=(16, 16, 16),
                       classes=default_classes(["background", "left atrium"]),
                       normalization={"mode": "zscore", "window": None}, tau=0.296, delta_rule="union",
                       mix_reference=np.zeros((16, 16, 16), np.float32))


def test_register_and_list(tmp_path):
    bundle = small_bundle(tmp_path / "my model")
    registry = tmp_path / "registry"
    (registry / "not-a-model").mkdir(parents=True)
    first = register(bundle, folder=registry)
    second = register(bundle, folder=registry)
    assert first.path.name == "my-model" and second.path.name == "my-model-2"
    listed = list_models(registry)
    assert listed[0].bundled and listed[0].path == DEMO_MODEL
    assert [e.path.name for e in listed[1:]] == ["my-model", "my-model-2"]


def test_a_listed_name_is_accepted_wherever_a_model_is_asked_for(tmp_path, monkeypatch):
    """`sgrs models` lists "model (demo)"; `--model model` used to fail with "not a model bundle"."""
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)  # no folder called "model" here: the name must come from the registry
    monkeypatch.setenv("SGRS_MODELS", str(tmp_path / "registry"))
    from sgrs.models.registry import resolve_model
    assert resolve_model("model") == DEMO_MODEL
    listed = subprocess.run([sys.executable, "-m", "sgrs", "models"], capture_output=True, text=True, check=True)
    assert "model (demo)" in listed.stdout
    scan = DEMO_MODEL.parent / "sample" / "image.nrrd"
    done = subprocess.run([sys.executable, "-m", "sgrs", "rank", str(scan), "--model", "model", "--device", "cpu",
                           "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    unknown = subprocess.run([sys.executable, "-m", "sgrs", "segment", str(scan), "--model", "no-such-model",
                              "--out", "o"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert "no registered model of that name (registered: model;" in unknown.stderr.splitlines()[-1]
    assert not (tmp_path / "o").exists()


def test_a_name_two_bundles_share_is_refused_with_both_folders(tmp_path):
    from sgrs.models.registry import resolve_model
    from sgrs.util.errors import ModelError
    bundle = small_bundle(tmp_path / "b")
    registry = tmp_path / "registry"
    register(bundle, name="heart", folder=registry)
    register(bundle, name="heart", folder=registry)
    try:
        resolve_model("heart", registry)
    except ModelError as exc:
        assert "names 2 registered models" in str(exc) and "heart-2" in str(exc)
    else:
        raise AssertionError("an ambiguous name was accepted")
