"""The Studio's overhead: time from clicking *Segment* in a real browser (headless chromium) to the
overlay showing in the views, beside the engine's own time (summary "seconds") for the same run.

    python benchmarks/studio/studio_overhead.py [--runs 3]

Prints a Markdown table. The click-to-overlay time includes the background process start
(interpreter, torch import, model load), the engine, importing the result nodes into the MRML scene,
rendering and streaming the views to the browser.
"""
import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "Testing" / "studio"))
from harness import studio_in_browser, wait_for, wait_for_pixels  # noqa: E402


async def run(n: int) -> list[tuple[float, float, float]]:
    from trame.app import get_server

    from SGRSStudio.app import Studio

    studio = Studio(tempfile.mkdtemp(prefix="sgrs-studio-bench-"), server=get_server("bench", client_type="vue3"))
    rows = []
    async with studio_in_browser(studio) as page:
        await page.click("#tab-segment")
        for _ in range(n):
            studio.set_case(studio.case)   # clear the overlays of the previous run
            await asyncio.sleep(1.0)
            previous = studio.segment.session
            t0 = time.monotonic()
            await page.click("#segment-run")
            await wait_for(lambda: studio.segment.session is not previous and studio.segment.session.state == "done",
                           300, step=0.02, what="Segment")
            t_done = time.monotonic() - t0
            await wait_for_pixels(page, lambda c: c["segmentation"] > 500 and c["delta"] > 50, 60, "the overlay")
            rows.append((time.monotonic() - t0, t_done, studio.segment.last_engine_seconds))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rows = asyncio.run(run(args.runs))
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          "sample 64×64×48, demo model, CPU\n")
    print("| run | click → overlay in browser (s) | click → nodes in scene (s) | engine 'seconds' (s) "
          "| Studio overhead (s) | of which nodes → pixels (s) |")
    print("|---|---|---|---|---|---|")
    table = [(shown, done, engine, shown - engine, shown - done) for shown, done, engine in rows]
    for i, row in enumerate(table, 1):
        print(f"| {i} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    print("| median | " + " | ".join(f"{statistics.median(col):.2f}" for col in zip(*table)) + " |")


if __name__ == "__main__":
    main()
