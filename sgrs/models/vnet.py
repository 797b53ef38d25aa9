"""The V-Net of UA-MT / MC-Net / SGRS-Net.

Module names reproduce the official checkpoint keys (``encoder.block_one.conv.0.weight`` ...,
``decoder1.out_conv.bias``) so an official state dict loads with ``strict=True`` unchanged.
Tensors are (batch, channel, x, y, z): the engine's axis order, see :mod:`sgrs.io`.
"""
from __future__ import annotations

import torch
from torch import nn

ENCODER_STAGES = (1, 2, 3, 3, 3)
DECODER_STAGES = (3, 3, 2, 1)
STAGE_NAMES = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


class ConvBlock(nn.Module):
    """``n`` × (3×3×3 conv, BatchNorm, ReLU); ``conv.{3i}`` / ``conv.{3i+1}`` as in the official keys."""

    def __init__(self, n: int, in_ch: int, out_ch: int):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n):
            layers += [nn.Conv3d(in_ch if i == 0 else out_ch, out_ch, 3, padding=1),
                       nn.BatchNorm3d(out_ch), nn.ReLU(inplace=True)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Resample(nn.Module):
    """Stride-2 2×2×2 conv (down) or transposed conv (up), BatchNorm, ReLU."""

    def __init__(self, in_ch: int, out_ch: int, up: bool):
        super().__init__()
        conv = nn.ConvTranspose3d if up else nn.Conv3d
        self.conv = nn.Sequential(conv(in_ch, out_ch, 2, stride=2), nn.BatchNorm3d(out_ch),
                                  nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Encoder(nn.Module):
    def __init__(self, in_channels: int, f: int, dropout: float = 0.5):
        super().__init__()
        chans = [f * 2**i for i in range(5)]
        for i, (n, ch) in enumerate(zip(ENCODER_STAGES, chans)):
            setattr(self, f"block_{STAGE_NAMES[i]}", ConvBlock(n, in_channels if i == 0 else ch, ch))
            if i < 4:
                setattr(self, f"block_{STAGE_NAMES[i]}_dw", Resample(ch, chans[i + 1], up=False))
        self.dropout = nn.Dropout3d(dropout)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        skips = []
        for i in range(5):
            x = getattr(self, f"block_{STAGE_NAMES[i]}")(x)
            if i < 4:
                skips.append(x)
                x = getattr(self, f"block_{STAGE_NAMES[i]}_dw")(x)
        return skips + [self.dropout(x)]


class Decoder(nn.Module):
    def __init__(self, f: int, n_classes: int, dropout: float = 0.5):
        super().__init__()
        chans = [f * 2**i for i in range(4, -1, -1)]  # 16f, 8f, 4f, 2f, f
        for i, n in enumerate(DECODER_STAGES):
            setattr(self, f"block_{STAGE_NAMES[4 + i]}_up", Resample(chans[i], chans[i + 1], up=True))
            setattr(self, f"block_{STAGE_NAMES[5 + i]}", ConvBlock(n, chans[i + 1], chans[i + 1]))
        self.dropout = nn.Dropout3d(dropout)
        self.out_conv = nn.Conv3d(f, n_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = feats[4]
        for i in range(4):
            x = getattr(self, f"block_{STAGE_NAMES[4 + i]}_up")(x) + feats[3 - i]  # additive skip
            x = getattr(self, f"block_{STAGE_NAMES[5 + i]}")(x)
        return self.out_conv(self.dropout(x))


class VNet(nn.Module):
    """V-Net: 1 input channel, ``n_classes`` outputs, ``n_filters`` in the first stage (16 = official).

    The spatial size must be divisible by 16 (four stride-2 stages). ``dropout``: the two Dropout3d
    layers' probability (training only, so not part of ``config()``).
    """

    def __init__(self, n_classes: int = 2, n_filters: int = 16, in_channels: int = 1, dropout: float = 0.5):
        super().__init__()
        self.n_classes, self.n_filters, self.in_channels = n_classes, n_filters, in_channels
        self.encoder = Encoder(in_channels, n_filters, dropout)
        self.decoder1 = Decoder(n_filters, n_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder1(self.encoder(x))

    def config(self) -> dict:
        return {"name": "vnet", "n_classes": self.n_classes, "n_filters": self.n_filters,
                "in_channels": self.in_channels}


def build_model(arch: dict) -> VNet:
    if arch.get("name", "vnet") != "vnet":
        raise ValueError(f"unknown architecture {arch.get('name')!r}")
    return VNet(int(arch["n_classes"]), int(arch["n_filters"]), int(arch.get("in_channels", 1)))


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An inference copy of ``model`` with each eval-mode BatchNorm folded into the convolution
    before it (weights scaled, bias shifted) and replaced by an identity: one pass over every
    feature map fewer per block, the same function up to float rounding. ``model`` is unchanged."""
    import copy

    folded = copy.deepcopy(model).eval()
    for seq in folded.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if isinstance(conv, (nn.Conv3d, nn.ConvTranspose3d)) and isinstance(bn, nn.BatchNorm3d):
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                out_axis = 1 if isinstance(conv, nn.ConvTranspose3d) else 0
                shape = [1] * conv.weight.dim()
                shape[out_axis] = -1
                conv.weight.mul_(scale.reshape(shape))
                bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
                conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias)
                seq[i + 1] = nn.Identity()
    return folded
