"""Which engine runs the network's forward pass during segmentation.

``torch`` (the default; ``auto`` means it): BatchNorm folded into the convolutions,
channels-last-3d on the CPU, bf16 autocast on CUDA. ``openvino`` (CPU only, opt-in, needs
``pip install openvino``; not a dependency): the same folded network compiled by OpenVINO in
float32. Measured on the development machine (docs/benchmarks.md) it was 1.4× faster than torch
on the full-size V-Net while torch's OpenMP threads spun, but slower once engine processes wait
passively (:mod:`sgrs.util.threads`), so it is kept for comparison and for machines where it wins.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import torch

from ..util.device import autocast_for
from ..util.errors import SGRSError
from .sliding import Predictor

BACKENDS = ("auto", "torch", "openvino")


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def make_predictor(model: torch.nn.Module, device: torch.device, backend: str = "auto", patch=None):
    """A callable (B, 1, *patch) → probabilities (B, C, *patch) with ``.to(device)`` and ``.name``."""
    if backend not in BACKENDS:
        raise SGRSError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if backend == "openvino" and (device.type != "cpu" or not openvino_available()):
        why = "runs on the CPU only" if device.type != "cpu" else "is not installed (pip install openvino)"
        raise SGRSError(f"backend 'openvino' {why}; use --backend torch")
    if backend == "openvino":
        return OpenVinoPredictor(model, patch)
    predict = Predictor(model.to(device), autocast_for(device) if device.type == "cuda" else None,
                        channels_last=device.type == "cpu", fold_bn=True)
    predict.name = "torch"
    return predict


class _WithSoftmax(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).softmax(1)


def cache_root() -> Path:
    """Where converted networks are kept: $SGRS_CACHE, else ~/.cache/sgrs."""
    return Path(os.environ.get("SGRS_CACHE") or Path.home() / ".cache" / "sgrs")


class OpenVinoPredictor:
    """The BatchNorm-folded network with its softmax, compiled for any batch size, float32.

    Converting a network takes ~10–20 s (tracing), so the converted network is kept in
    ``cache_root()/openvino/<hash of weights, patch, OpenVINO version>``; later runs read it in < 1 s.
    """

    name = "openvino"

    def __init__(self, model: torch.nn.Module, patch):
        import openvino as ov

        from ..models.vnet import fold_batchnorm

        net = _WithSoftmax(fold_batchnorm(model.cpu())).eval()
        shape = [-1, int(getattr(model, "in_channels", 1))] + [int(p) for p in patch]
        digest = hashlib.sha256(f"{shape}{ov.__version__}".encode())
        for key, value in net.state_dict().items():
            digest.update(key.encode() + value.detach().contiguous().numpy().tobytes())
        folder = cache_root() / "openvino" / digest.hexdigest()[:24]
        xml = folder / "model.xml"
        if not xml.exists():
            with torch.no_grad():
                converted = ov.convert_model(net, example_input=torch.zeros([1] + shape[1:]),
                                             input=[ov.PartialShape(shape)])
            tmp = None
            try:  # written beside, then renamed: a reader never sees half a model
                tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=_made(folder.parent)))
                ov.save_model(converted, tmp / "model.xml", compress_to_fp16=False)  # float32 weights, exact
                tmp.rename(folder)
            except OSError:  # a read-only or full cache costs the conversion next time, nothing else
                if tmp is not None:
                    shutil.rmtree(tmp, ignore_errors=True)
                self.compiled = ov.Core().compile_model(converted, "CPU", self._config(ov))
                self.request = self.compiled.create_infer_request()
                return
        self.compiled = ov.Core().compile_model(str(xml), "CPU", self._config(ov))
        self.request = self.compiled.create_infer_request()

    @staticmethod
    def _config(ov) -> dict:
        return {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_NUM_THREADS": torch.get_num_threads()}

    def to(self, device) -> "OpenVinoPredictor":
        if torch.device(device).type != "cpu":
            raise SGRSError("the OpenVINO backend runs on the CPU only")
        return self

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        out = self.request.infer({0: batch.contiguous().numpy()})[0]
        return torch.from_numpy(out.copy())
