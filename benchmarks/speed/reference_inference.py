"""The published way to segment a volume (UA-MT / SGRS-Net test code), re-written plainly as the
speed and agreement baseline: one window at a time, dense stride (18, 18, 4), uniform averaging
in numpy score and count maps, zero padding of small volumes."""
import math

import numpy as np
import torch


@torch.no_grad()
def reference_segment(model, image: np.ndarray, patch, n_classes: int, stride_xy: int = 18,
                      stride_z: int = 4) -> np.ndarray:
    model.eval()
    pads = [max(0, p - s) for s, p in zip(image.shape, patch)]
    padded = np.pad(image, [(p // 2, p - p // 2) for p in pads], mode="constant")
    ww, hh, dd = padded.shape
    sx = math.ceil((ww - patch[0]) / stride_xy) + 1
    sy = math.ceil((hh - patch[1]) / stride_xy) + 1
    sz = math.ceil((dd - patch[2]) / stride_z) + 1
    score = np.zeros((n_classes,) + padded.shape, np.float32)
    count = np.zeros(padded.shape, np.float32)
    for x in range(sx):
        xs = min(stride_xy * x, ww - patch[0])
        for y in range(sy):
            ys = min(stride_xy * y, hh - patch[1])
            for z in range(sz):
                zs = min(stride_z * z, dd - patch[2])
                window = (slice(xs, xs + patch[0]), slice(ys, ys + patch[1]), slice(zs, zs + patch[2]))
                batch = torch.from_numpy(padded[window][None, None].astype(np.float32))
                probs = torch.softmax(model(batch), 1)[0].numpy()
                score[(slice(None),) + window] += probs
                count[window] += 1
    label = np.argmax(score / count[None], axis=0)
    crop = tuple(slice(p // 2, p // 2 + s) for p, s in zip(pads, image.shape))
    return label[crop].astype(np.uint8), sx * sy * sz
