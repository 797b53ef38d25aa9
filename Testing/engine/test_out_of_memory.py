"""Out-of-memory recovery (issue 17, item 3): each rung of the ladder driven by an injected
``torch.cuda.OutOfMemoryError`` from the network's forward pass. On a CPU-only machine the ladder is
told the sums live on the device and the network can fall back (``host_accumulators=False``,
``can_fall_back=True``), so every rung runs; ``benchmarks/speed/gpu_check.py`` runs these tests on CUDA."""
import functools
import json

import numpy as np
import pytest
import torch

from sgrs import cli
from sgrs.data.image_io import Geometry
from sgrs.data.phantom import make_case
from sgrs.inference import segment as segment_module
from sgrs.inference.memory import BATCH, CPU, HOST, OomLadder
from sgrs.inference.segment import SegmentOptions, segment_array
from sgrs.models.bundle import load_bundle
from sgrs.models.vnet import VNet
from sgrs.util.errors import SGRSError

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(scope="module")
def case():
    image, _, _ = make_case(0, 11, size=(40, 36, 24), spacing=(1.5, 1.5, 2.0))
    return image, Geometry((40, 36, 24), (1.5, 1.5, 2.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))


class InjectedOom:
    """VNet.forward that raises CUDA's out-of-memory error while ``fails(batch, calls)`` holds."""

    def __init__(self, fails):
        self.fails, self.calls, self.raised = fails, 0, 0
        self.real = VNet.forward

    def __call__(self, net, x):
        self.calls += 1
        if self.fails(x.shape[0], self.calls):
            self.raised += 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return self.real(net, x)


def inject(monkeypatch, fault) -> None:
    monkeypatch.setattr(VNet, "forward", lambda net, x: fault(net, x))  # a plain function binds as a method


def run(bundle, case, monkeypatch=None, fault=None, ladder=None, **options):
    if fault is not None:
        inject(monkeypatch, fault)
    if ladder is not None:
        monkeypatch.setattr(segment_module, "OomLadder", functools.partial(OomLadder, **ladder))
    seen = []
    options = {"lanes": 1, **options}  # the ladder one batch at a time; test_lanes.py runs it with two lanes
    seg = segment_array(*case, bundle, SegmentOptions(device=DEVICE, backend="torch", **options),
                        on_warning=seen.append)
    return seg, seen


def same_maps(a, b):
    assert np.array_equal(a.label, b.label)
    assert np.array_equal(a.regions, b.regions)
    assert np.abs(a.entropy.astype(int) - b.entropy.astype(int)).max() <= 1


def test_a_large_batch_is_halved_until_it_fits(tiny_bundle, case, monkeypatch):
    bundle = load_bundle(tiny_bundle)
    clean, _ = run(bundle, case, batch_size=1)
    fault = InjectedOom(lambda batch, calls: batch > 1)  # only single windows fit
    seg, seen = run(bundle, case, monkeypatch, fault, batch_size=4)
    same_maps(seg, clean)
    assert fault.raised == 2
    assert seg.summary["scan"]["network"]["oom_steps"] == [BATCH, BATCH]
    assert seg.summary["scan"]["network"]["batch_size"] == 1
    assert seen == [w for w in seg.summary["warnings"] if "out of memory" in w]
    assert [w.split(": ")[-1] for w in seen] == ["window batch halved to 2", "window batch halved to 1"]


def test_then_the_sums_go_to_the_host_then_the_network_to_the_cpu(tiny_bundle, case, monkeypatch):
    bundle = load_bundle(tiny_bundle)
    clean, _ = run(bundle, case, batch_size=2)
    fault = InjectedOom(lambda batch, calls: calls <= 3)  # three failures in a row, mid-run state kept
    seg, seen = run(bundle, case, monkeypatch, fault, ladder={"host_accumulators": False, "can_fall_back": True},
                    batch_size=2)
    same_maps(seg, clean)
    assert seg.summary["scan"]["network"]["oom_steps"] == [BATCH, HOST, CPU]
    assert "moved to the host" in seen[1] and "network moved to the CPU" in seen[2]
    assert seg.summary["device"] == "cpu"


def test_out_of_memory_after_every_rung_is_a_one_line_error(tiny_bundle, case, monkeypatch):
    fault = InjectedOom(lambda batch, calls: True)
    with pytest.raises(SGRSError, match="out of memory even at one window per pass"):
        run(load_bundle(tiny_bundle), case, monkeypatch, fault, ladder={"host_accumulators": False,
                                                                          "can_fall_back": True})
    assert fault.raised == 4  # batch 2 → 1, host, CPU, then the error


def test_an_error_that_is_not_out_of_memory_is_not_swallowed(tiny_bundle, case, monkeypatch):
    def broken(net, x):
        raise RuntimeError("some other CUDA error")
    monkeypatch.setattr(VNet, "forward", broken)
    with pytest.raises(RuntimeError, match="some other"):
        run(load_bundle(tiny_bundle), case)


def test_the_cli_warns_on_the_status_line_and_in_the_summary_without_a_traceback(tiny_bundle, case, monkeypatch,
                                                                              tmp_path, capsys):
    from sgrs.data.image_io import write_image
    write_image(case[0], case[1], tmp_path / "scan.nrrd")
    inject(monkeypatch, InjectedOom(lambda batch, calls: batch > 1))
    rc = cli.main(["segment", str(tmp_path / "scan.nrrd"), "--model", str(tiny_bundle), "--out",
                   str(tmp_path / "out"), "--device", DEVICE, "--batch", "2", "--backend", "torch",
                   "--progress-file", str(tmp_path / "progress.jsonl")])
    err = capsys.readouterr().err
    assert rc == 0 and "Traceback" not in err
    assert "sgrs: warning: " + DEVICE + " out of memory: window batch halved to 1" in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert any("window batch halved to 1" in w for w in summary["warnings"])
    events = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert any(e["event"] == "warning" and "halved" in e["message"] for e in events)
    inject(monkeypatch, InjectedOom(lambda batch, calls: True))
    rc = cli.main(["segment", str(tmp_path / "scan.nrrd"), "--model", str(tiny_bundle), "--out",
                   str(tmp_path / "out2"), "--device", DEVICE, "--backend", "torch"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err and "sgrs: error: out of memory even at one window" in err


def test_training_out_of_memory_says_how_to_fit_in_one_line(tiny_cohort, tmp_path, monkeypatch, capsys):
    from sgrs.training.job import read_events

    inject(monkeypatch, InjectedOom(lambda batch, calls: True))
    args = ["train", "--cohort", str(tiny_cohort), "--out", str(tmp_path / "job"), "--labelled", "2",
            "--iterations", "2", "--filters", "2", "--device", DEVICE]
    assert cli.main(args + ["--batch", "4", "--patch", "32", "32", "16"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith(f"sgrs: error: {DEVICE} out of memory") and "batch 4 at patch 32×32×16: try --batch 2" in err
    assert "try --batch 2" in read_events(tmp_path / "job")[-1]["reason"]
    assert cli.main(args + ["--batch", "2", "--patch", "64", "64", "48", "--out", str(tmp_path / "job2")]) == 1
    assert "batch 2 at patch 64×64×48: try --patch 48 48 32" in capsys.readouterr().err
