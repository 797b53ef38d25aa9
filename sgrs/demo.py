"""``make demo`` / ``python -m sgrs.demo``: segment the bundled sample with the bundled demo model,
write the maps and the overview, print the summary and the Dice against the sample's label."""
from __future__ import annotations

import sys
from pathlib import Path

from .cli_inference import describe, window_bar
from .data.image_io import read_image, read_label
from .evaluation.metrics import all_metrics
from .inference.segment import SegmentOptions, segment_file
from .util.errors import SGRSError
from .util.progress import ProgressBar

DEMO = Path(__file__).resolve().parents[1] / "Resources" / "Demo"


def main(out_dir: str = "out/demo") -> int:
    image, label, model = DEMO / "sample" / "image.nrrd", DEMO / "sample" / "label.nrrd", DEMO / "model"
    bar = ProgressBar(1, "segment")

    try:
        seg, files = segment_file(image, model, out_dir, SegmentOptions(device="auto"), png=True,
                                  progress=window_bar(bar))
        bar.close()
        truth = read_label(label, 2, read_image(image)[1], image)
    except SGRSError as exc:
        print(f"sgrs demo: error: {exc}", file=sys.stderr)
        return 1
    print(describe(seg.summary, files))
    m = all_metrics(seg.label > 0, truth > 0, seg.geometry.spacing)
    print(f"Dice against the sample's label: {m['dice']:.4f}  (Jaccard {m['jaccard']:.4f}, "
          f"HD95 {m['hd95']:.2f} mm, ASSD {m['assd']:.2f} mm)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
