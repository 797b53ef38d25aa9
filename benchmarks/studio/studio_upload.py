"""Upload time in the Studio: a real browser (headless chromium) uploads an N-MB NRRD through the
Data panel's file input; the time runs until the case is a volume node in the scene. Run it on two
checkouts (PYTHONPATH) to compare them in the same conditions.

    python benchmarks/studio/studio_upload.py [--mb 170] [--runs 2]
"""
import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "Testing" / "studio"))
from harness import studio_in_browser, wait_for  # noqa: E402


def scan(mb: int, folder: Path) -> Path:
    import numpy as np

    from sgrs.data.image_io import Geometry, write_image

    depth = max(1, (mb << 20) // (256 * 256 * 4))
    array = np.random.default_rng(0).normal(100, 20, (256, 256, depth)).astype(np.float32)
    return write_image(array, Geometry(array.shape, (1.0, 1.0, 1.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1)),
                       folder / "upload.nrrd", compress=False)


async def run(path: Path, runs: int) -> list[float]:
    from trame.app import get_server

    from SGRSStudio.app import Studio

    studio = Studio(tempfile.mkdtemp(prefix="sgrs-studio-bench-"), server=get_server("bench", client_type="vue3"),
                    sample=None)
    times = []
    async with studio_in_browser(studio) as page:
        for i in range(runs):
            t0 = time.monotonic()
            await page.locator("#panel-data input[type=file]").set_input_files(str(path))
            await wait_for(lambda: len(studio.state.data_cases) == i + 1, 600, step=0.05, what="the upload")
            times.append(time.monotonic() - t0)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=170)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sgrs-upload-bench-"))
    path = scan(args.mb, folder)
    size = path.stat().st_size / 2**20
    times = asyncio.run(run(path, args.runs))
    print(f"{ROOT}: {size:.0f} MB upload, browser → volume node: "
          + ", ".join(f"{t:.1f} s ({size / t:.1f} MB/s)" for t in times)
          + f"; {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    path.unlink()


if __name__ == "__main__":
    main()
