"""The bundled demo: ``make demo``'s job on the bundled sample, with the bundled model."""
import json

from sgrs import demo
from sgrs.models.bundle import load_bundle


def test_demo_segments_the_sample_with_dice_above_085(tmp_path, capsys):
    assert demo.main(str(tmp_path / "demo")) == 0
    printed = capsys.readouterr().out
    dice = float(printed.split("Dice against the sample's label:")[1].split()[0])
    assert dice >= 0.85, printed
    for name in ("label.nrrd", "regions.nrrd", "entropy.nrrd", "overview.png", "summary.json"):
        assert (tmp_path / "demo" / name).stat().st_size > 0, name
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert set(summary["regions"]) == {"delta", "omega", "theta"}


def test_demo_model_was_trained_by_the_engine_and_not_on_the_sample():
    meta = load_bundle(demo.DEMO / "model").meta
    prov = meta["provenance"]
    assert prov["method"] == "sgrs" and prov["iterations"] > 0
    assert "teacher.safetensors" in meta["files"].values()
    # the sample comes from another phantom seed (see Resources/Demo/make_demo_model.sh)
    assert "seed2026" not in str(demo.DEMO / "sample") and prov["seed"] == 2026
