"""Windows in parallel lanes on the CPU (issue 17): the same maps as one batch at a time, an
out-of-memory error in a lane still climbs the ladder once per round, any other error comes out,
the thread count is given back, and the rule for when lanes are used."""
import numpy as np
import pytest
import torch
from conftest import ROOT
from test_out_of_memory import InjectedOom, case, inject, same_maps  # noqa: F401 (fixture)

from sgrs.inference.lanes import SMALL_WINDOW, Lanes, auto_lanes
from sgrs.inference.memory import BATCH
from sgrs.inference.segment import SegmentOptions, segment_array
from sgrs.models.bundle import load_bundle
from sgrs.models.vnet import VNet

DEMO = ROOT / "Resources" / "Demo" / "model"


def segment(bundle, case, lanes, **options):
    return segment_array(*case, bundle, SegmentOptions(device="cpu", backend="torch", lanes=lanes, **options))


def test_two_lanes_give_the_maps_of_one():
    from sgrs.data.image_io import read_scan
    image, geometry, _ = read_scan(ROOT / "Resources" / "Demo" / "sample" / "image.nrrd")
    bundle, case = load_bundle(DEMO), (image, geometry)
    one, two = segment(bundle, case, 1), segment(bundle, case, 2, batch_size=1)
    same_maps(two, one)
    net = two.summary["scan"]["network"]
    assert net["lanes"] == 2 and one.summary["scan"]["network"]["lanes"] == 1
    assert net["windows_plain"] == one.summary["scan"]["network"]["windows_plain"] > 2


def test_out_of_memory_in_the_lanes_halves_the_batch_once_per_round(tiny_bundle, case, monkeypatch):
    bundle = load_bundle(tiny_bundle)
    clean = segment(bundle, case, 1, batch_size=1)
    fault = InjectedOom(lambda batch, calls: batch > 1)
    inject(monkeypatch, fault)
    seg = segment(bundle, case, 2, batch_size=4)
    same_maps(seg, clean)
    assert seg.summary["scan"]["network"]["oom_steps"] == [BATCH, BATCH]  # both lanes failed each round
    assert fault.raised == 4


def test_an_error_in_a_lane_comes_out_and_the_threads_are_given_back(tiny_bundle, case, monkeypatch):
    threads = torch.get_num_threads()

    def broken(net, x):
        raise ValueError("a lane broke")
    monkeypatch.setattr(VNet, "forward", broken)
    with pytest.raises(ValueError, match="a lane broke"):
        segment(load_bundle(tiny_bundle), case, 2)
    assert torch.get_num_threads() == threads


def test_lanes_share_out_the_threads_while_open():
    threads = torch.get_num_threads()
    with Lanes(2) as lanes:
        seen = lanes.map(lambda _: torch.get_num_threads(), range(4))
    assert seen == [max(1, threads // 2)] * 4
    assert torch.get_num_threads() == threads
    with Lanes(1) as lanes:
        assert lanes.map(lambda v: v * 2, [1, 2, 3]) == [2, 4, 6]


def test_lanes_are_used_for_a_small_window_on_a_cpu_with_two_threads(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert auto_lanes(cpu, "auto", 8, (48, 48, 32)) == 2           # the demo model
    assert auto_lanes(cpu, "torch", 16, (112, 112, 80)) == 1       # the full-size V-Net
    assert 8 * 48 * 48 * 32 <= SMALL_WINDOW < 16 * 112 * 112 * 80
    assert auto_lanes(torch.device("cuda"), "auto", 8, (48, 48, 32)) == 1
    assert auto_lanes(cpu, "openvino", 8, (48, 48, 32)) == 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert auto_lanes(cpu, "auto", 8, (48, 48, 32)) == 1


def test_lanes_with_openvino_or_below_one_are_refused():
    from sgrs.util.errors import SGRSError
    with pytest.raises(SGRSError, match="torch backend only"):
        SegmentOptions(lanes=2, backend="openvino").check()
    with pytest.raises(SGRSError, match="at least 1"):
        SegmentOptions(lanes=0).check()
